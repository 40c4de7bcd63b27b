"""The shipped SnowNLP sentiment model (sentiment.marshal.3), the script that rebuilds it, and the split it used."""
