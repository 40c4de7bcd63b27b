"""Everything that talks to Elasticsearch about mentions: mapping, client, writer, spool, search."""
