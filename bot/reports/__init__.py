"""Report pages for programme owners and leads: signed links, the page's data, charts, exports."""
