/* Structured logging: one JSON object per line on stdout with time, level, service,
 * request id, trace id and message. Request context is per thread. */
#ifndef METRO_LOG_H
#define METRO_LOG_H

typedef enum { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR } log_level;

void log_init(const char *service, log_level min_level);
/* Parses "debug|info|warn|error"; returns -1 when unknown. */
int log_level_parse(const char *s);
/* Sets the request id and trace id stamped on this thread's lines (NULL clears). */
void log_set_context(const char *request_id, const char *trace_id);

void log_write(log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define log_debug(...) log_write(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_write(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_write(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_write(LOG_ERROR, __VA_ARGS__)

#endif
