# Unit tests of the report service's pure modules (svc/report): periods in Asia/Ho_Chi_Minh, the
# CSV download and the SVG charts; test_report_svg_xml parses the charts with Python's XML parser.
metro_unit_test(test_report_period SOURCES svc/report/period.c LIBS metro_common)
metro_unit_test(test_report_csv SOURCES svc/report/csv.c LIBS metro_common)
metro_unit_test(test_report_svg SOURCES svc/report/svg.c LIBS metro_common)

if(TARGET test_report_svg)
  add_test(NAME test_report_svg_xml
    COMMAND sh ${CMAKE_SOURCE_DIR}/test/unit/report_svg_xml.sh $<TARGET_FILE:test_report_svg>
            ${CMAKE_BINARY_DIR}/test/report_svg ${CMAKE_SOURCE_DIR}/test/unit/report_svg_xml.py)
  set_tests_properties(test_report_svg_xml PROPERTIES LABELS unit TIMEOUT 120)
endif()
