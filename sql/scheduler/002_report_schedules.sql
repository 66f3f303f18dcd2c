-- The report service has arrived (issue 13): its job calls RunDueSchedules every minute.
UPDATE jobs SET method = '/metro.report.v1.ReportService/RunDueSchedules', request = '{}', enabled = true,
  description = 'report schedules that are due: the previous period generated and emailed once',
  updated_at = now()
WHERE name = 'report-schedules';
