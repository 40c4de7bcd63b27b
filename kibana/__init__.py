"""Kibana saved objects for Groundswell: data views, saved searches, visualizations and the analysts' dashboard.

`kibana.panels` describes each panel once (source, query, aggregation); `kibana.saved_objects` turns those
descriptions into Kibana 8 NDJSON and `kibana.requests` into the Elasticsearch search Kibana would send, so the
tests run exactly what the dashboard asks for. `kibana.fields` checks every field a saved object names against
the mappings.
"""
