"""Incident email: compose (text + HTML + chart), send (smtplib), outbox (at-least-once via Elasticsearch), sink."""
