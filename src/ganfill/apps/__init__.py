"""Front ends: the command line, the files-in/results-out batch, the demo, the web page and the human study."""
