/* evhttp_hello.c: standalone libevent evhttp benchmark server for choosing the transcoder's HTTP library.
 * Serves GET /hello, POST /echo and GET /async (reply sent from the loop after a worker thread signals); see run.sh. */
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/thread.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BENCH_THREADS 2
#define BENCH_MAX_BODY (64 * 1024)
#define BENCH_MAX_HEADERS_SIZE (32 * 1024)
#define BENCH_TIMEOUT_S 30

static const char hello_body[] =
    "{\"service\":\"metro\",\"message\":\"hello\",\"station\":\"Ben Thanh\",\"line\":1,\"open\":true,\"pad\":\"xx\"}";

/* One loop per thread, each with its own SO_REUSEPORT listening socket on the same port. */
struct evb_loop {
    struct event_base *base;
    struct evhttp *http;
    pthread_t thread;
};

/* An /async request waiting for the worker; the worker activates `done` to hop back to the loop thread. */
struct evb_pending {
    struct evhttp_request *req;
    struct event *done;
    struct evb_pending *next;
};

/* A single worker thread stands in for the gRPC completion-queue thread. */
static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct evb_pending *head, *tail;
    int stop;
} evb_queue = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, NULL, 0};

static void evb_queue_push(struct evb_pending *p)
{
    pthread_mutex_lock(&evb_queue.lock);
    p->next = NULL;
    if (evb_queue.tail)
        evb_queue.tail->next = p;
    else
        evb_queue.head = p;
    evb_queue.tail = p;
    pthread_cond_signal(&evb_queue.cond);
    pthread_mutex_unlock(&evb_queue.lock);
}

static void *evb_worker(void *unused)
{
    (void)unused;
    pthread_mutex_lock(&evb_queue.lock);
    for (;;) {
        while (!evb_queue.head && !evb_queue.stop)
            pthread_cond_wait(&evb_queue.cond, &evb_queue.lock);
        if (!evb_queue.head)
            break;
        struct evb_pending *p = evb_queue.head;
        evb_queue.head = p->next;
        if (!evb_queue.head)
            evb_queue.tail = NULL;
        pthread_mutex_unlock(&evb_queue.lock);
        event_active(p->done, 0, 0); /* thread-safe because evthread_use_pthreads() was called */
        pthread_mutex_lock(&evb_queue.lock);
    }
    pthread_mutex_unlock(&evb_queue.lock);
    return NULL;
}

static void evb_reply(struct evhttp_request *req, int status, const char *reason, const char *body, size_t len)
{
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    struct evbuffer *out = evbuffer_new();
    if (!out) {
        evhttp_send_error(req, HTTP_INTERNAL, NULL);
        return;
    }
    evbuffer_add(out, body, len);
    evhttp_send_reply(req, status, reason, out);
    evbuffer_free(out);
}

static void evb_handle_hello(struct evhttp_request *req, void *arg)
{
    (void)arg;
    if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
        evhttp_send_error(req, 405, NULL);
        return;
    }
    evb_reply(req, HTTP_OK, "OK", hello_body, sizeof hello_body - 1);
}

static void evb_handle_echo(struct evhttp_request *req, void *arg)
{
    (void)arg;
    if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
        evhttp_send_error(req, 405, NULL);
        return;
    }
    /* evhttp_set_max_body_size already answered 413 for larger bodies; copy as mhd_hello.c does. */
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    char *body = len <= BENCH_MAX_BODY ? malloc(BENCH_MAX_BODY) : NULL;
    if (!body) {
        evhttp_send_error(req, 413, NULL);
        return;
    }
    evbuffer_remove(in, body, len);
    char out[96];
    int n = snprintf(out, sizeof out, "{\"received\":%zu,\"starts_with_brace\":%s}", len,
                     len && body[0] == '{' ? "true" : "false");
    free(body);
    evb_reply(req, HTTP_OK, "OK", out, (size_t)n);
}

static void evb_async_done(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct evb_pending *p = arg;
    evb_reply(p->req, HTTP_OK, "OK", hello_body, sizeof hello_body - 1);
    event_free(p->done);
    free(p);
}

static void evb_handle_async(struct evhttp_request *req, void *arg)
{
    struct event_base *base = arg;
    if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
        evhttp_send_error(req, 405, NULL);
        return;
    }
    struct evb_pending *p = malloc(sizeof *p);
    if (!p) {
        evhttp_send_error(req, HTTP_INTERNAL, NULL);
        return;
    }
    p->req = req;
    p->done = event_new(base, -1, 0, evb_async_done, p);
    if (!p->done) {
        free(p);
        evhttp_send_error(req, HTTP_INTERNAL, NULL);
        return;
    }
    evb_queue_push(p);
}

static int evb_listen(unsigned port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0 ||
        bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 1024) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static unsigned evb_bound_port(int fd)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;
    return getsockname(fd, (struct sockaddr *)&sa, &len) == 0 ? ntohs(sa.sin_port) : 0;
}

static int evb_loop_init(struct evb_loop *loop, int fd)
{
    loop->base = event_base_new();
    loop->http = loop->base ? evhttp_new(loop->base) : NULL;
    if (!loop->http)
        return -1;
    evhttp_set_max_body_size(loop->http, BENCH_MAX_BODY);
    evhttp_set_max_headers_size(loop->http, BENCH_MAX_HEADERS_SIZE);
    evhttp_set_timeout(loop->http, BENCH_TIMEOUT_S);
    evhttp_set_allowed_methods(loop->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
    evhttp_set_cb(loop->http, "/hello", evb_handle_hello, NULL);
    evhttp_set_cb(loop->http, "/echo", evb_handle_echo, NULL);
    evhttp_set_cb(loop->http, "/async", evb_handle_async, loop->base);
    return evhttp_accept_socket(loop->http, fd);
}

static void *evb_loop_run(void *arg)
{
    struct evb_loop *loop = arg;
    event_base_dispatch(loop->base);
    return NULL;
}

int main(int argc, char **argv)
{
    unsigned port = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 0;
    if (port > 65535) {
        fprintf(stderr, "usage: %s [port]\n", argv[0]);
        return 2;
    }
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (evthread_use_pthreads() != 0)
        return 1;

    struct evb_loop loops[BENCH_THREADS] = {0};
    int started = 0, rc = 1;
    for (int i = 0; i < BENCH_THREADS; i++) {
        int fd = evb_listen(port);
        if (fd < 0) {
            perror("listen");
            goto out;
        }
        port = evb_bound_port(fd); /* later sockets join the port the first one got */
        if (evb_loop_init(&loops[i], fd) != 0) {
            close(fd);
            goto out;
        }
    }
    pthread_t worker;
    if (pthread_create(&worker, NULL, evb_worker, NULL) != 0)
        goto out;
    for (; started < BENCH_THREADS; started++)
        if (pthread_create(&loops[started].thread, NULL, evb_loop_run, &loops[started]) != 0)
            break;
    if (started == BENCH_THREADS) {
        printf("listening on %u\n", port);
        fflush(stdout);
        int sig = 0;
        sigwait(&sigs, &sig);
        rc = 0;
    }
    /* Drain the worker, then let each loop finish the replies it was handed and exit. */
    pthread_mutex_lock(&evb_queue.lock);
    evb_queue.stop = 1;
    pthread_cond_signal(&evb_queue.cond);
    pthread_mutex_unlock(&evb_queue.lock);
    pthread_join(worker, NULL);
    for (int i = 0; i < started; i++) {
        event_base_loopexit(loops[i].base, NULL);
        pthread_join(loops[i].thread, NULL);
    }
out:
    for (int i = 0; i < BENCH_THREADS; i++) {
        if (loops[i].http)
            evhttp_free(loops[i].http);
        if (loops[i].base)
            event_base_free(loops[i].base);
    }
    libevent_global_shutdown();
    return rc;
}
