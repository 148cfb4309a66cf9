"""Views: the long sections of the pages, drawn from what explain/ and models/ compute (one module per page)."""
