"""How a document is made: the format registry (``formats``), each format's renderer
(``documents``), the HTML and PDF themselves (``html_pdf``: Jinja, xhtml2pdf), and the charts and
fonts they draw with. Nothing here touches the database or Redis."""
