// Upload page: "Try it with example data" fills the text box in place (without JavaScript the
// button is a link to /?example=1, which serves the page with the example already filled in),
// and an excerpt of malformed JSON scrolls sideways to its caret on a narrow screen.
(function () {
  "use strict";
  Array.prototype.forEach.call(document.querySelectorAll(".snippet .caret"), function (caret) {
    var box = caret.closest(".snippet");
    var left = caret.getBoundingClientRect().left - box.getBoundingClientRect().left;
    if (left > box.clientWidth * 0.8) box.scrollLeft = left - box.clientWidth * 0.6;
  });

  var link = document.getElementById("try-example");
  var text = document.getElementById("text");
  var status = document.getElementById("example-status");
  if (!link || !text || !window.fetch) return;

  link.addEventListener("click", function (event) {
    event.preventDefault();
    status.textContent = "Loading the example…";
    fetch(link.getAttribute("data-example-url"), {headers: {Accept: "application/json"}})
      .then(function (response) {
        if (!response.ok) throw new Error("status " + response.status);
        return response.text();
      })
      .then(function (example) {
        text.value = example;
        var file = document.getElementById("file");
        if (file) file.value = "";  // one source at a time
        status.textContent = "Example data filled in below: press “Make reports” to try it.";
        text.focus();
        text.setSelectionRange(0, 0);
        text.scrollTop = 0;
      })
      .catch(function () {
        window.location.href = link.href;  // the page with the example filled in by the server
      });
  });
})();
