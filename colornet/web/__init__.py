"""The browser front end: a static page (``static/``) that colorizes on the visitor's own machine with
onnxruntime-web, and ``colornet web``, which exports the model, installs the npm dependency once and serves both
on 127.0.0.1. Nothing is uploaded: the server only hands out the page, the model and onnxruntime-web's files."""
