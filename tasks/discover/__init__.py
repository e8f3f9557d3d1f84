"""Discovery: what a source's documents list (feeds, sitemaps, URL lists, WARC archives)."""
