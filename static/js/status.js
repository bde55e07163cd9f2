// Status page: poll the JSON endpoint and swap in the server-rendered report cards until every
// report is done. Without JavaScript, a <noscript> meta refresh reloads the page instead.
(function () {
  "use strict";
  var page = document.querySelector("[data-status-url]");
  if (!page || !window.fetch || page.getAttribute("data-done") === "true") return;
  var cards = document.getElementById("reports");
  var summary = document.getElementById("summary");
  var students = document.getElementById("students");
  var noWorker = document.getElementById("no-worker");
  var lastHtml = null;
  var lastStudents = null;
  var delay = 1000;

  function show(body) {
    if (body.html !== lastHtml) {
      cards.innerHTML = body.html;
      lastHtml = body.html;
    }
    if (students && body.students_html !== lastStudents) {
      students.innerHTML = body.students_html;
      lastStudents = body.students_html;
    }
    if (noWorker) noWorker.hidden = !body.no_worker;
    if (summary.textContent !== body.summary) summary.textContent = body.summary;
    document.title = body.title;
    page.setAttribute("data-done", body.done ? "true" : "false");
  }

  function poll() {
    fetch(page.getAttribute("data-status-url"), {headers: {Accept: "application/json"}, cache: "no-store"})
      .then(function (response) {
        if (!response.ok) throw new Error("status " + response.status);
        return response.json();
      })
      .then(function (body) {
        show(body);
        delay = 1000;
        if (!body.done) setTimeout(poll, delay);
      })
      .catch(function () {
        delay = Math.min(delay * 2, 15000);  // the server is busy or restarting: back off, keep trying
        setTimeout(poll, delay);
      });
  }

  setTimeout(poll, delay);
})();
