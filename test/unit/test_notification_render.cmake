# Unit test of the notification service's pure parts (format, template, mime, qr_png and the
# embedded templates), compiling only those sources; the QR is read back with zbarimg.
if(TARGET metro_notification_templates)
  metro_unit_test(test_notification_render
    SOURCES svc/notification/format.c svc/notification/template.c svc/notification/mime.c
            svc/notification/qr_png.c
    LIBS metro_notification_templates metro_common PkgConfig::QRENCODE PkgConfig::PNG)
endif()
