/* mhd_hello.c: standalone libmicrohttpd benchmark server for choosing the transcoder's HTTP library.
 * Serves GET /hello, POST /echo and GET /async (suspend, resume from a worker thread); see run.sh. */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BENCH_THREADS 2
#define BENCH_MAX_BODY (64 * 1024)
#define BENCH_MEMORY_LIMIT (32 * 1024) /* bounds request line + headers per connection */
#define BENCH_TIMEOUT_S 30
#define BENCH_MAX_CONNECTIONS 1024

static const char hello_body[] =
    "{\"service\":\"metro\",\"message\":\"hello\",\"station\":\"Ben Thanh\",\"line\":1,\"open\":true,\"pad\":\"xx\"}";

enum mhdb_state { MHDB_NEW, MHDB_PENDING, MHDB_DONE };

/* Per-request state: body accumulation for POST, suspend/resume bookkeeping for /async. */
struct mhdb_request {
    struct MHD_Connection *conn;
    enum mhdb_state state;
    int too_large;
    size_t body_len;
    struct mhdb_request *next;
    char body[BENCH_MAX_BODY]; /* last: /async requests are allocated without it */
};

/* A single worker thread stands in for the gRPC completion-queue thread. */
static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct mhdb_request *head, *tail;
    int stop;
} mhdb_queue = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, NULL, 0};

static struct MHD_Response *hello_response;
static char hello_marker; /* con_cls of GET /hello: needs no per-request state */

static void mhdb_queue_push(struct mhdb_request *req)
{
    pthread_mutex_lock(&mhdb_queue.lock);
    req->next = NULL;
    if (mhdb_queue.tail)
        mhdb_queue.tail->next = req;
    else
        mhdb_queue.head = req;
    mhdb_queue.tail = req;
    pthread_cond_signal(&mhdb_queue.cond);
    pthread_mutex_unlock(&mhdb_queue.lock);
}

static void *mhdb_worker(void *unused)
{
    (void)unused;
    pthread_mutex_lock(&mhdb_queue.lock);
    for (;;) {
        while (!mhdb_queue.head && !mhdb_queue.stop)
            pthread_cond_wait(&mhdb_queue.cond, &mhdb_queue.lock);
        if (!mhdb_queue.head)
            break;
        struct mhdb_request *req = mhdb_queue.head;
        mhdb_queue.head = req->next;
        if (!mhdb_queue.head)
            mhdb_queue.tail = NULL;
        pthread_mutex_unlock(&mhdb_queue.lock);
        req->state = MHDB_DONE;
        MHD_resume_connection(req->conn); /* documented as safe at any time, from any thread */
        pthread_mutex_lock(&mhdb_queue.lock);
    }
    pthread_mutex_unlock(&mhdb_queue.lock);
    return NULL;
}

static enum MHD_Result mhdb_reply(struct MHD_Connection *conn, unsigned status, const char *body)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    enum MHD_Result ret = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result mhdb_handle_echo(struct mhdb_request *req, const char *upload_data,
                                        size_t *upload_data_size)
{
    if (*upload_data_size) {
        if (*upload_data_size > sizeof req->body - req->body_len)
            req->too_large = 1;
        else
            memcpy(req->body + req->body_len, upload_data, *upload_data_size);
        if (!req->too_large)
            req->body_len += *upload_data_size;
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (req->too_large)
        return mhdb_reply(req->conn, MHD_HTTP_CONTENT_TOO_LARGE, "{\"error\":\"body too large\"}");
    char out[96];
    snprintf(out, sizeof out, "{\"received\":%zu,\"starts_with_brace\":%s}", req->body_len,
             req->body_len && req->body[0] == '{' ? "true" : "false");
    return mhdb_reply(req->conn, MHD_HTTP_OK, out);
}

static enum MHD_Result mhdb_handle_async(struct mhdb_request *req)
{
    if (req->state == MHDB_NEW) {
        req->state = MHDB_PENDING;
        MHD_suspend_connection(req->conn);
        mhdb_queue_push(req);
        return MHD_YES;
    }
    if (req->state == MHDB_PENDING)
        return MHD_YES;
    return MHD_queue_response(req->conn, MHD_HTTP_OK, hello_response);
}

static enum MHD_Result mhdb_access(void *cls, struct MHD_Connection *conn, const char *url,
                                   const char *method, const char *version, const char *upload_data,
                                   size_t *upload_data_size, void **con_cls)
{
    (void)cls;
    (void)version;
    int is_get = strcmp(method, MHD_HTTP_METHOD_GET) == 0;
    int is_post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;
    if (is_get && strcmp(url, "/hello") == 0) {
        /* Answering on the first call (headers only) makes MHD 0.9.75 send "Connection: close";
         * mark the request and answer on the second call so keep-alive holds. */
        if (!*con_cls) {
            *con_cls = &hello_marker;
            return MHD_YES;
        }
        return MHD_queue_response(conn, MHD_HTTP_OK, hello_response);
    }
    int is_echo = is_post && strcmp(url, "/echo") == 0;
    int is_async = is_get && strcmp(url, "/async") == 0;
    if (!is_echo && !is_async)
        return mhdb_reply(conn, MHD_HTTP_NOT_FOUND, "{\"error\":\"not found\"}");
    struct mhdb_request *req = *con_cls;
    if (!req) {
        /* malloc, not calloc: the body buffer is written before it is read, as in evhttp_hello.c */
        req = malloc(is_echo ? sizeof *req : offsetof(struct mhdb_request, body));
        if (!req)
            return MHD_NO;
        req->conn = conn;
        req->state = MHDB_NEW;
        req->too_large = 0;
        req->body_len = 0;
        req->next = NULL;
        *con_cls = req;
        return MHD_YES;
    }
    return is_echo ? mhdb_handle_echo(req, upload_data, upload_data_size) : mhdb_handle_async(req);
}

static void mhdb_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                           enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    if (*con_cls != &hello_marker)
        free(*con_cls);
    *con_cls = NULL;
}

int main(int argc, char **argv)
{
    unsigned port = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 0;
    if (port > 65535) {
        fprintf(stderr, "usage: %s [port]\n", argv[0]);
        return 2;
    }
    /* Block SIGINT/SIGTERM before any thread starts so only sigwait() below sees them. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    hello_response = MHD_create_response_from_buffer(sizeof hello_body - 1, (void *)hello_body,
                                                     MHD_RESPMEM_PERSISTENT);
    if (!hello_response)
        return 1;
    MHD_add_response_header(hello_response, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");

    pthread_t worker;
    if (pthread_create(&worker, NULL, mhdb_worker, NULL) != 0)
        return 1;

    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG,
        (uint16_t)port, NULL, NULL, mhdb_access, NULL,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)BENCH_THREADS,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)BENCH_MEMORY_LIMIT,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)BENCH_TIMEOUT_S,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)BENCH_MAX_CONNECTIONS,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
        MHD_OPTION_NOTIFY_COMPLETED, mhdb_completed, NULL,
        MHD_OPTION_END);
    int rc = 1;
    if (d) {
        const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
        printf("listening on %u\n", info ? (unsigned)info->port : port);
        fflush(stdout);
        int sig = 0;
        sigwait(&sigs, &sig);
        rc = 0;
    }
    /* Drain the worker first: it must not resume a connection of a stopped daemon, and stopping with
     * suspended connections is an API violation (requests arriving during shutdown are not handled). */
    pthread_mutex_lock(&mhdb_queue.lock);
    mhdb_queue.stop = 1;
    pthread_cond_signal(&mhdb_queue.cond);
    pthread_mutex_unlock(&mhdb_queue.lock);
    pthread_join(worker, NULL);
    if (d)
        MHD_stop_daemon(d);
    MHD_destroy_response(hello_response);
    return rc;
}
