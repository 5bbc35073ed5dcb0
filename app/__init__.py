"""grokling's Qt shell: windows, tray and the glue that runs core calls off the UI thread."""
