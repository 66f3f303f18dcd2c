# Unit tests of the gateway's strict HTTP/1.1 parser (request heads, framing rules, chunked bodies).
metro_unit_test(test_http_parse
  SOURCES transcoder/http_parse.c)
