# The notification senders (svc/notification: smtp.c, sms.c) against a real Mailpit and the SMS
# emulator (test/providers/sms.py), which the test starts and stops itself: label integration.
metro_unit_test(test_notification_senders
  SOURCES svc/notification/smtp.c svc/notification/sms.c svc/notification/mime.c
  LIBS metro_common)
if(TARGET test_notification_senders)
  set_tests_properties(test_notification_senders PROPERTIES LABELS integration TIMEOUT 180)
endif()
