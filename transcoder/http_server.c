/* The gateway's HTTP/1.1 server (see http_server.h). The loop threads share one listening socket
 * (EPOLLEXCLUSIVE: one is woken per connection); each owns its connections and their deadlines;
 * answers made on other threads reach the owner through a locked list and an eventfd.
 *
 * Connections are registered once, edge-triggered for both directions, and never modified: the
 * loop remembers itself whether a socket may hold unread bytes (may_read) and writes an answer
 * as soon as it is ready, waiting for the EPOLLOUT edge only when the socket is full. */
#include "transcoder/http_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"

#define MAX_EVENTS 256
#define FIRST_INPUT_CAP 2048
#define SWEEP_MS 100
#define ERROR_BODY_CAP 1024
#define LINGER_MS 2000
#define KEEP_OUT_CAP 8192 /* an answer buffer up to this size is kept for the connection's next answer */
#define READ_BUDGET 16    /* reads for one connection in a row before the others get their turn */
#define CONN_EVENTS (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET)

typedef struct loop loop;
typedef struct conn conn;

/* C_LINGER: after a final answer the write side is shut and what the client still sends is
 * read and dropped for a moment, so its unread bytes do not turn our close into a reset that
 * could destroy the answer before the client reads it. */
typedef enum { C_HEAD, C_BODY, C_HANDLING, C_WRITING, C_LINGER } conn_state;

struct conn {
  int fd;
  loop *owner;
  conn_state state;
  bool may_read; /* no read has drained the socket since its last readable edge */
  bool eof_seen; /* an edge reported the peer's FIN or an error: read on until recv says so */
  char *in;
  size_t in_len, in_cap;
  int64_t deadline_ms; /* 0: none (a request is being handled) */
  bool request_started;
  bool close_after;
  char *out; /* the answer being written; between answers, a spare buffer (or NULL) */
  size_t out_len, out_off, out_cap;
  http_exchange *ex;
  int64_t body_expected; /* Content-Length body: bytes still to read */
  bool chunked;
  http_chunked chunk;
  char peer_ip[INET6_ADDRSTRLEN];
  conn *prev, *next;
};

struct http_exchange {
  loop *owner;
  conn *c; /* NULL once the connection is gone: the answer is then dropped */
  http_request req;
  bool keep_alive, head, minor0;
  char *body;
  size_t body_len, body_cap;
  /* the serialized answer, handed to the owner loop; its buffer is the connection's spare */
  char *answer;
  size_t answer_len, answer_cap;
  bool answer_close;
  http_exchange *next_done;
};

struct loop {
  http_server *server;
  pthread_t thread;
  int epfd, listen_fd, wake_fd;
  conn *conns; /* every open connection of this loop */
  pthread_mutex_t done_lock;
  http_exchange *done_head, *done_tail;
  int64_t now_ms; /* the monotonic clock, read once per wake-up */
  int64_t last_sweep;
  conn *in_handler; /* the connection whose request the handler is running for, or NULL */
  http_head scratch; /* the head being parsed (large; one per loop) */
};

struct http_server {
  http_server_config cfg;
  int port;
  int n_loops;
  loop *loops;
  atomic_int connections;
  atomic_int in_flight;
  atomic_bool stopping;
  atomic_bool quit;
};

static const char WAKE_TAG_ = 0, LISTEN_TAG_ = 0;
#define WAKE_TAG ((void *)&WAKE_TAG_)
#define LISTEN_TAG ((void *)&LISTEN_TAG_)

static const char *status_text(int status) {
  switch (status) {
  case 200: return "OK";
  case 201: return "Created";
  case 202: return "Accepted";
  case 204: return "No Content";
  case 301: return "Moved Permanently";
  case 302: return "Found";
  case 303: return "See Other";
  case 304: return "Not Modified";
  case 307: return "Temporary Redirect";
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 403: return "Forbidden";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 408: return "Request Timeout";
  case 409: return "Conflict";
  case 410: return "Gone";
  case 412: return "Precondition Failed";
  case 413: return "Content Too Large";
  case 414: return "URI Too Long";
  case 415: return "Unsupported Media Type";
  case 417: return "Expectation Failed";
  case 422: return "Unprocessable Content";
  case 429: return "Too Many Requests";
  case 431: return "Request Header Fields Too Large";
  case 499: return "Client Closed Request";
  case 500: return "Internal Server Error";
  case 501: return "Not Implemented";
  case 502: return "Bad Gateway";
  case 503: return "Service Unavailable";
  case 504: return "Gateway Timeout";
  case 505: return "HTTP Version Not Supported";
  default: return status < 300 ? "OK" : status < 500 ? "Client Error" : "Server Error";
  }
}

/* ---- serializing an answer ---- */

typedef struct outbuf {
  char *p;
  size_t len, cap;
} outbuf;

static void out_reserve(outbuf *o, size_t n) {
  if (o->len + n <= o->cap) return;
  size_t cap = o->cap ? o->cap : 512;
  while (cap < o->len + n) cap *= 2;
  o->p = realloc(o->p, cap);
  if (!o->p) abort();
  o->cap = cap;
}

static void out_put(outbuf *o, const char *s, size_t n) {
  out_reserve(o, n);
  memcpy(o->p + o->len, s, n);
  o->len += n;
}

static void out_str(outbuf *o, const char *s) { out_put(o, s, strlen(s)); }

static bool header_safe(const char *s) {
  for (; *s; s++)
    if (*s == '\r' || *s == '\n') return false;
  return true;
}

/* Appends the answer to o (usually empty: len 0, maybe a buffer to reuse). */
static void serialize(outbuf *o, const char *date, const http_response *r, bool head, bool close, bool minor0) {
  bool no_body = r->status == 204 || r->status == 304 || (r->status >= 100 && r->status < 200);
  bool body = !head && !no_body && r->body_len;
  /* One allocation at most: the fixed lines fit in 192 bytes. */
  size_t need = 192 + (r->content_type ? strlen(r->content_type) : 0) + (body ? r->body_len : 0);
  for (int i = 0; i < r->n_headers; i++) need += strlen(r->header_names[i]) + strlen(r->header_values[i]) + 4;
  out_reserve(o, need);
  char line[128];
  snprintf(line, sizeof line, "HTTP/1.1 %d %s\r\nDate: %s\r\n", r->status, status_text(r->status), date);
  out_str(o, line);
  if (r->content_type && !no_body) {
    out_str(o, "Content-Type: ");
    out_str(o, r->content_type);
    out_str(o, "\r\n");
  }
  if (!no_body) {
    snprintf(line, sizeof line, "Content-Length: %zu\r\n", r->body_len);
    out_str(o, line);
  }
  for (int i = 0; i < r->n_headers; i++) {
    if (!header_safe(r->header_names[i]) || !header_safe(r->header_values[i])) continue;
    out_str(o, r->header_names[i]);
    out_str(o, ": ");
    out_str(o, r->header_values[i]);
    out_str(o, "\r\n");
  }
  if (close) out_str(o, "Connection: close\r\n");
  else if (minor0) out_str(o, "Connection: keep-alive\r\n");
  out_str(o, "\r\n");
  if (body) out_put(o, r->body, r->body_len);
}

/* The Date header for now, formatted at most once a second by each thread that answers. */
static const char *date_now(void) {
  static _Thread_local char date[40];
  static _Thread_local time_t date_second = -1;
  time_t t = time(NULL);
  if (t != date_second) {
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    date_second = t;
  }
  return date;
}

/* ---- connections ---- */

/* The loop running on this thread (NULL on other threads): tells a synchronous answer apart. */
static _Thread_local loop *this_loop;

typedef enum { IO_DONE, IO_WAIT, IO_CLOSED } io_result;

static void exchange_free(http_exchange *ex) {
  free(ex->answer);
  arena_destroy(ex->req.arena);
}

static void conn_close(conn *c) {
  loop *l = c->owner;
  epoll_ctl(l->epfd, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  if (c->ex) {
    if (c->state == C_HANDLING) c->ex->c = NULL; /* its answer will be dropped by the loop */
    else exchange_free(c->ex);
  }
  if (c->prev) c->prev->next = c->next;
  else l->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  free(c->in);
  free(c->out);
  free(c);
  atomic_fetch_sub(&l->server->connections, 1);
}

static void idle(conn *c) {
  c->state = C_HEAD;
  c->request_started = false;
  c->deadline_ms = c->owner->now_ms + c->owner->server->cfg.idle_timeout_ms;
}

/* Writes what is pending: IO_DONE once all of it is out (the connection is then idle again, or
 * lingering), IO_WAIT when the socket is full (its EPOLLOUT edge resumes), IO_CLOSED. */
static io_result flush(conn *c) {
  while (c->out_off < c->out_len) {
    ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
    if (n > 0) {
      c->out_off += (size_t)n;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return IO_WAIT;
    conn_close(c);
    return IO_CLOSED;
  }
  c->out_len = c->out_off = 0;
  if (c->out_cap > KEEP_OUT_CAP) {
    free(c->out);
    c->out = NULL;
    c->out_cap = 0;
  }
  if (c->ex) {
    exchange_free(c->ex);
    c->ex = NULL;
  }
  if (c->close_after) {
    shutdown(c->fd, SHUT_WR);
    c->state = C_LINGER;
    c->deadline_ms = c->owner->now_ms + LINGER_MS;
    return IO_DONE;
  }
  idle(c);
  return IO_DONE;
}

/* The answer to send next (the buffer becomes the connection's); written by conn_run. */
static void start_writing(conn *c, char *bytes, size_t len, size_t cap, bool close) {
  c->state = C_WRITING;
  c->out = bytes;
  c->out_len = len;
  c->out_cap = cap;
  c->out_off = 0;
  c->close_after = close;
  c->deadline_ms = c->owner->now_ms + c->owner->server->cfg.idle_timeout_ms;
}

/* A refusal the server makes itself: Status body, then close. */
static void refuse(conn *c, int status, const char *reason, const char *message) {
  const http_server_config *cfg = &c->owner->server->cfg;
  char body[ERROR_BODY_CAP];
  size_t len = cfg->error_body ? cfg->error_body(body, sizeof body, status, reason, message) : 0;
  http_response r = {.status = status, .content_type = len ? cfg->error_content_type : NULL, .body = body,
                     .body_len = len};
  outbuf o = {.p = c->out, .cap = c->out_cap}; /* the spare buffer: nothing is being written */
  serialize(&o, date_now(), &r, false, true, false);
  if (c->ex && c->state != C_HANDLING) {
    exchange_free(c->ex);
    c->ex = NULL;
  }
  start_writing(c, o.p, o.len, o.cap, true);
}

static bool take_body(void *user, const char *data, size_t n) {
  http_exchange *ex = user;
  size_t max = ex->c->owner->server->cfg.max_body;
  if (ex->body_len + n > max) return false;
  if (ex->body_len + n > ex->body_cap) {
    size_t cap = ex->body_cap ? ex->body_cap * 2 : 4096;
    while (cap < ex->body_len + n) cap *= 2;
    if (cap > max) cap = max;
    char *grown = arena_alloc(ex->req.arena, cap);
    if (ex->body_len) memcpy(grown, ex->body, ex->body_len);
    ex->body = grown;
    ex->body_cap = cap;
  }
  memcpy(ex->body + ex->body_len, data, n);
  ex->body_len += n;
  return true;
}

static const char *copy_n(arena *a, const char *s, size_t n) { return arena_strndup(a, s, n); }

/* The head is complete: the exchange and its request, the body's framing. */
static bool begin_request(conn *c, const http_head *h) {
  http_server *s = c->owner->server;
  arena *a = arena_create(16384);
  http_exchange *ex = arena_alloc(a, sizeof *ex);
  memset(ex, 0, sizeof *ex);
  ex->owner = c->owner;
  ex->c = c;
  ex->req.arena = a;
  ex->req.method = copy_n(a, h->method, h->method_len);
  ex->req.target = copy_n(a, h->target, h->target_len);
  const char *q = memchr(h->target, '?', h->target_len);
  size_t path_len = q ? (size_t)(q - h->target) : h->target_len;
  ex->req.path = copy_n(a, h->target, path_len);
  ex->req.query = q ? copy_n(a, q + 1, h->target_len - path_len - 1) : "";
  http_header_kv *kv = arena_alloc(a, sizeof *kv * (size_t)(h->n_fields ? h->n_fields : 1));
  for (int i = 0; i < h->n_fields; i++) {
    kv[i].name = copy_n(a, h->fields[i].name, h->fields[i].name_len);
    kv[i].value = copy_n(a, h->fields[i].value, h->fields[i].value_len);
  }
  ex->req.headers = kv;
  ex->req.n_headers = h->n_fields;
  ex->req.peer_ip = copy_n(a, c->peer_ip, strlen(c->peer_ip));
  ex->req.head = strcmp(ex->req.method, "HEAD") == 0;
  ex->head = ex->req.head;
  ex->keep_alive = h->keep_alive;
  ex->minor0 = h->minor_version == 0;
  c->ex = ex;
  c->chunked = h->chunked;
  memset(&c->chunk, 0, sizeof c->chunk);
  c->body_expected = h->chunked ? 0 : h->content_length > 0 ? h->content_length : 0;
  if (!h->chunked && h->content_length > (int64_t)s->cfg.max_body) {
    char msg[96];
    snprintf(msg, sizeof msg, "the request body exceeds %zu bytes", s->cfg.max_body);
    refuse(c, 413, "PAYLOAD_TOO_LARGE", msg);
    return false;
  }
  if (c->body_expected > 0) {
    ex->body = arena_alloc(a, (size_t)c->body_expected);
    ex->body_cap = (size_t)c->body_expected;
  }
  if (h->expect_continue && (h->chunked || c->body_expected > 0)) {
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    (void)!send(c->fd, cont, sizeof cont - 1, MSG_NOSIGNAL);
  }
  c->state = C_BODY;
  return true;
}

static void consume_input(conn *c, size_t n) {
  memmove(c->in, c->in + n, c->in_len - n);
  c->in_len -= n;
}

/* Hands the request to the handler. Its answer, made now (on this thread) or later (on any),
 * goes into the connection's spare buffer, lent to the exchange meanwhile. */
static void dispatch(conn *c) {
  http_exchange *ex = c->ex;
  loop *l = c->owner;
  http_server *s = l->server;
  ex->req.body = ex->body ? ex->body : "";
  ex->req.body_len = ex->body_len;
  ex->answer = c->out;
  ex->answer_cap = c->out_cap;
  c->out = NULL;
  c->out_cap = 0;
  c->state = C_HANDLING;
  c->deadline_ms = 0;
  atomic_fetch_add(&s->in_flight, 1);
  l->in_handler = c;
  s->cfg.handler(ex, &ex->req, s->cfg.user);
  l->in_handler = NULL;
}

/* Parses whatever the input buffer holds, as far as the current state allows (a request handed
 * to the handler, or refused, ends it). Never closes c. */
static void process_input(conn *c) {
  http_server *s = c->owner->server;
  while (c->in_len > 0 && (c->state == C_HEAD || c->state == C_BODY)) {
    if (c->state == C_HEAD) {
      if (!c->request_started) {
        c->request_started = true;
        c->deadline_ms = c->owner->now_ms + s->cfg.request_deadline_ms;
      }
      size_t used = 0;
      http_parse_error perr;
      http_parse_result pr = http_parse_head(c->in, c->in_len, &s->cfg.limits, &c->owner->scratch, &used, &perr);
      if (pr == HTTP_PARSE_INCOMPLETE) return;
      if (pr == HTTP_PARSE_FAILED) {
        refuse(c, perr.status, perr.reason, perr.message);
        return;
      }
      if (!begin_request(c, &c->owner->scratch)) return;
      consume_input(c, used);
      continue;
    }
    /* C_BODY */
    if (c->chunked) {
      size_t used = 0;
      http_parse_error perr;
      http_chunked_result cr = http_chunked_feed(&c->chunk, c->in, c->in_len, &used, take_body, c->ex, &perr);
      consume_input(c, used);
      if (cr == HTTP_CHUNKED_FAILED) {
        refuse(c, perr.status, perr.reason, perr.message);
        return;
      }
      if (cr == HTTP_CHUNKED_MORE) return;
    } else {
      size_t n = c->in_len < (uint64_t)c->body_expected ? c->in_len : (size_t)c->body_expected;
      if (n > 0) {
        memcpy(c->ex->body + c->ex->body_len, c->in, n);
        c->ex->body_len += n;
        c->body_expected -= (int64_t)n;
        consume_input(c, n);
      }
      if (c->body_expected > 0) return;
    }
    dispatch(c);
    return;
  }
  if (c->state == C_BODY && !c->chunked && c->body_expected == 0) dispatch(c);
}

/* One read into the input buffer: IO_DONE with new bytes; IO_WAIT when the socket is drained
 * or the buffer full; IO_CLOSED when the peer closed or failed. A short read drained the socket:
 * bytes that come later raise a new edge. A FIN or error already reported raises none, so once
 * one was seen the socket counts as drained only when recv says EAGAIN. */
static io_result read_some(conn *c) {
  size_t cap = c->owner->server->cfg.limits.max_head + 4096;
  if (c->in_len == c->in_cap) {
    if (c->in_cap >= cap) return IO_WAIT; /* full; the parser will have refused an oversized head */
    size_t grown = c->in_cap ? c->in_cap * 2 : FIRST_INPUT_CAP;
    if (grown > cap) grown = cap;
    c->in = realloc(c->in, grown);
    if (!c->in) abort();
    c->in_cap = grown;
  }
  size_t room = c->in_cap - c->in_len;
  ssize_t n;
  do n = recv(c->fd, c->in + c->in_len, room, 0);
  while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
    c->may_read = false;
    return IO_WAIT;
  }
  if (n <= 0) {
    conn_close(c);
    return IO_CLOSED;
  }
  c->in_len += (size_t)n;
  if ((size_t)n < room && !c->eof_seen) c->may_read = false;
  return IO_DONE;
}

/* C_LINGER: reads and drops until the socket is drained; closes when the peer has closed. */
static void linger_read(conn *c) {
  char drop[16384];
  for (;;) {
    ssize_t n = recv(c->fd, drop, sizeof drop, 0);
    if (n > 0) continue;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      c->may_read = false;
      return;
    }
    conn_close(c);
    return;
  }
}

/* Takes c as far as it can go without waiting: writes its answer, parses the buffered input
 * (pipelined requests in order, one at a time), reads while the socket may hold more. Returns
 * when c waits for its peer or its handler, or was closed. After READ_BUDGET reads in a row
 * the registration is renewed, which reports c again if it is still readable, and the loop
 * serves the other connections first. */
static void conn_run(conn *c) {
  int reads = 0;
  for (;;) {
    switch (c->state) {
    case C_WRITING:
      if (flush(c) != IO_DONE) return;
      break;
    case C_HANDLING:
      return;
    case C_LINGER:
      if (c->may_read) linger_read(c);
      return;
    case C_HEAD:
    case C_BODY:
      process_input(c);
      if (c->state != C_HEAD && c->state != C_BODY) break;
      if (!c->may_read) return;
      if (reads++ == READ_BUDGET) {
        struct epoll_event ev = {.events = CONN_EVENTS, .data.ptr = c};
        epoll_ctl(c->owner->epfd, EPOLL_CTL_MOD, c->fd, &ev);
        return;
      }
      if (read_some(c) != IO_DONE) return;
      break;
    }
  }
}

static void accept_all(loop *l) {
  http_server *s = l->server;
  for (;;) {
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    int fd = accept4(l->listen_fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE) log_warn("http: out of file descriptors, refusing connections");
      return;
    }
    if (atomic_load(&s->stopping) || atomic_fetch_add(&s->connections, 1) >= s->cfg.max_connections) {
      if (!atomic_load(&s->stopping)) atomic_fetch_sub(&s->connections, 1);
      close(fd);
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    conn *c = calloc(1, sizeof *c);
    if (!c) abort();
    c->fd = fd;
    c->owner = l;
    if (ss.ss_family == AF_INET)
      inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, c->peer_ip, sizeof c->peer_ip);
    else if (ss.ss_family == AF_INET6)
      inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, c->peer_ip, sizeof c->peer_ip);
    c->next = l->conns;
    if (l->conns) l->conns->prev = c;
    l->conns = c;
    idle(c);
    /* Bytes that arrived before this are reported at once. */
    struct epoll_event ev = {.events = CONN_EVENTS, .data.ptr = c};
    epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev);
  }
}

/* An answer reached its loop: written unless its connection is gone. Returns the connection to
 * run, or NULL. */
static conn *answer_arrived(loop *l, http_exchange *ex) {
  conn *c = ex->c;
  atomic_fetch_sub(&l->server->in_flight, 1);
  if (!c) {
    exchange_free(ex);
    return NULL;
  }
  char *bytes = ex->answer;
  ex->answer = NULL;
  start_writing(c, bytes, ex->answer_len, ex->answer_cap, ex->answer_close);
  return c;
}

/* Answers made on other threads: the whole list at once (http_respond wakes the loop only when
 * it finds the list empty). */
static void drain_done(loop *l) {
  pthread_mutex_lock(&l->done_lock);
  http_exchange *ex = l->done_head;
  l->done_head = l->done_tail = NULL;
  pthread_mutex_unlock(&l->done_lock);
  while (ex) {
    http_exchange *next = ex->next_done;
    conn *c = answer_arrived(l, ex);
    if (c) conn_run(c);
    ex = next;
  }
}

/* Deadlines: a request that has not fully arrived in time gets 408; an idle or stalled
 * connection is closed. */
static void sweep(loop *l, int64_t now) {
  if (now - l->last_sweep < SWEEP_MS) return;
  l->last_sweep = now;
  conn *c = l->conns;
  while (c) {
    conn *next = c->next;
    if (c->deadline_ms && now >= c->deadline_ms) {
      if ((c->state == C_HEAD && c->request_started) || c->state == C_BODY) {
        refuse(c, 408, "REQUEST_TIMEOUT", "the request did not arrive in time");
        conn_run(c);
      } else if (c->state != C_HANDLING) {
        conn_close(c);
      }
    }
    c = next;
  }
}

static void *loop_main(void *arg) {
  loop *l = arg;
  http_server *s = l->server;
  this_loop = l;
  struct epoll_event events[MAX_EVENTS];
  while (!atomic_load(&s->quit)) {
    int n = epoll_wait(l->epfd, events, MAX_EVENTS, SWEEP_MS);
    l->now_ms = clock_mono_ms();
    bool woken = false;
    for (int i = 0; i < n; i++) {
      void *tag = events[i].data.ptr;
      if (tag == WAKE_TAG) {
        woken = true;
        continue;
      }
      if (tag == LISTEN_TAG) {
        accept_all(l);
        continue;
      }
      conn *c = tag;
      /* A connection closed earlier in this batch cannot appear: each fd is reported once, and
       * only a connection's own events (and, after the batch, answers and deadlines) close it. */
      uint32_t e = events[i].events;
      if (e & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) c->eof_seen = true;
      if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) c->may_read = true;
      if (c->state == C_HANDLING) {
        if (e & (EPOLLERR | EPOLLHUP)) conn_close(c); /* its answer will be dropped */
      } else if (c->state != C_WRITING || (e & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
        conn_run(c);
      }
    }
    if (woken) drain_done(l);
    sweep(l, l->now_ms);
  }
  while (l->conns) conn_close(l->conns);
  drain_done(l);
  if (s->cfg.thread_exit) s->cfg.thread_exit();
  return NULL;
}

/* ---- answers ---- */

const char *http_request_header(const http_request *req, const char *name) {
  for (int i = 0; i < req->n_headers; i++)
    if (strcasecmp(req->headers[i].name, name) == 0) return req->headers[i].value;
  return NULL;
}

void http_respond(http_exchange *ex, const http_response *resp) {
  loop *l = ex->owner;
  bool close = resp->close || !ex->keep_alive || atomic_load(&l->server->stopping);
  outbuf o = {.p = ex->answer, .cap = ex->answer_cap};
  serialize(&o, date_now(), resp, ex->head, close, ex->minor0);
  ex->answer = o.p;
  ex->answer_len = o.len;
  ex->answer_cap = o.cap;
  ex->answer_close = close;
  if (this_loop == l && l->in_handler && ex->c == l->in_handler) {
    /* Answered by the handler itself, on the loop: written as soon as the handler returns. */
    answer_arrived(l, ex);
    return;
  }
  ex->next_done = NULL;
  pthread_mutex_lock(&l->done_lock);
  bool was_empty = l->done_head == NULL;
  if (l->done_tail) l->done_tail->next_done = ex;
  else l->done_head = ex;
  l->done_tail = ex;
  pthread_mutex_unlock(&l->done_lock);
  /* A non-empty list has its wake-up on the way: the loop takes the whole list under the lock. */
  if (was_empty) {
    uint64_t one = 1;
    (void)!write(l->wake_fd, &one, sizeof one);
  }
}

/* ---- start and stop ---- */

static int listen_socket(const struct sockaddr_in *addr, char *err, size_t errlen) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
      bind(fd, (const struct sockaddr *)addr, sizeof *addr) != 0 || listen(fd, 4096) != 0) {
    snprintf(err, errlen, "cannot listen on port %d: %s", ntohs(addr->sin_port), strerror(errno));
    if (fd >= 0) close(fd);
    return -1;
  }
  return fd;
}

/* Many idle connections each hold a descriptor: raise the soft limit to the hard one. */
static void raise_fd_limit(int wanted) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  rlim_t want = (rlim_t)wanted + 256;
  if (rl.rlim_cur >= want) return;
  rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
}

http_server *http_server_start(const http_server_config *cfg, char *err, size_t errlen) {
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)cfg->port);
  if (inet_pton(AF_INET, cfg->addr, &addr.sin_addr) != 1) {
    snprintf(err, errlen, "not an IPv4 address: %s", cfg->addr);
    return NULL;
  }
  raise_fd_limit(cfg->max_connections);
  http_server *s = calloc(1, sizeof *s);
  if (!s) abort();
  s->cfg = *cfg;
  s->n_loops = cfg->threads > 0 ? cfg->threads : 1;
  s->loops = calloc((size_t)s->n_loops, sizeof(loop));
  if (!s->loops) abort();
  for (int i = 0; i < s->n_loops; i++) {
    loop *l = &s->loops[i];
    l->server = s;
    pthread_mutex_init(&l->done_lock, NULL);
    /* One listening socket shared by every loop (EPOLLEXCLUSIVE wakes one of them per
     * connection); not SO_REUSEPORT, which would let a second process on the same port
     * silently take half of the connections instead of failing to start. */
    l->listen_fd = i == 0 ? listen_socket(&addr, err, errlen) : s->loops[0].listen_fd;
    if (l->listen_fd < 0) {
      free(s->loops);
      free(s);
      return NULL;
    }
    if (i == 0) {
      struct sockaddr_in bound;
      socklen_t bl = sizeof bound;
      getsockname(l->listen_fd, (struct sockaddr *)&bound, &bl);
      s->port = ntohs(bound.sin_port);
    }
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    l->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.ptr = LISTEN_TAG};
    epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->listen_fd, &ev);
    /* Edge-triggered and never read: every write raises an edge (the counter cannot overflow in
     * practice), which saves the loop a read per wake-up. */
    ev = (struct epoll_event){.events = EPOLLIN | EPOLLET, .data.ptr = WAKE_TAG};
    epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->wake_fd, &ev);
  }
  for (int i = 0; i < s->n_loops; i++) pthread_create(&s->loops[i].thread, NULL, loop_main, &s->loops[i]);
  return s;
}

int http_server_port(const http_server *s) { return s->port; }

void http_server_stop(http_server *s, int wait_ms) {
  if (!s) return;
  atomic_store(&s->stopping, true);
  for (int i = 0; i < s->n_loops; i++) epoll_ctl(s->loops[i].epfd, EPOLL_CTL_DEL, s->loops[i].listen_fd, NULL);
  close(s->loops[0].listen_fd);
  for (int waited = 0; atomic_load(&s->in_flight) > 0 && waited < wait_ms; waited += 10)
    nanosleep(&(struct timespec){.tv_nsec = 10000000}, NULL);
  /* Give the loops a moment to write the last answers. */
  nanosleep(&(struct timespec){.tv_nsec = 50000000}, NULL);
  atomic_store(&s->quit, true);
  for (int i = 0; i < s->n_loops; i++) {
    uint64_t one = 1;
    (void)!write(s->loops[i].wake_fd, &one, sizeof one);
  }
  for (int i = 0; i < s->n_loops; i++) {
    loop *l = &s->loops[i];
    pthread_join(l->thread, NULL);
    close(l->epfd);
    close(l->wake_fd);
    pthread_mutex_destroy(&l->done_lock);
  }
  free(s->loops);
  free(s);
}
