"""The panel's look and words, set by its owner without touching a file: the logo and
favicon (``assets``), the theme's colours (``theme``), maintenance mode, and the content
pages written in Markdown per language (``content``)."""
