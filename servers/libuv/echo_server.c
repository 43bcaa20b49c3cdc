// A TCP echo server on libuv (the loop under Node.js), written the way libuv's own echo examples
// are: uv_listen, uv_accept into a uv_tcp_t, uv_read_start with an alloc callback, uv_write of
// what was read, the buffer freed in the write callback. The echo contract (DESIGN.md section 4)
// is met with libuv's own means:
//   - non-blocking sockets: libuv's; TCP_NODELAY: uv_tcp_nodelay on every accepted connection;
//   - read size: the alloc callback hands out --read-size bytes, so each read asks for that much;
//   - backpressure: the bytes libuv could not write yet are uv_stream_get_write_queue_size(); above
//     --max-pending the connection stops reading (uv_read_stop) and restarts once a write
//     callback sees the queue back at the cap (write interest is libuv's business: it polls for
//     POLLOUT only while its write queue is not empty);
//   - half-close: on UV_EOF, uv_shutdown is queued behind the pending writes, and its callback
//     closes the connection, so every owed byte is sent first;
//   - reset: UV_ECONNRESET on read or EPIPE/ECONNRESET on write closes that connection only;
//     SIGPIPE is ignored (libuv writes with write(2), not send(MSG_NOSIGNAL));
//   - EMFILE on accept: libuv keeps a reserve descriptor itself (uv__emfile_trick): it closes it,
//     accepts and closes the waiting connections, and takes it back, so the loop never spins;
//   - SIGINT/SIGTERM (uv_signal_t): close every handle, let the loop finish, exit 0.
// Prints 'listening ADDRESS:PORT' on stdout once it accepts connections; bad usage: exit 2.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <uv.h>

static const char* const kProgram = "libuv-echo-server";
enum { kExitUsage = 2 };

typedef struct {
  const char* bind;
  int port;
  size_t read_size;
  size_t max_pending;
  int cpu;  // -1: not pinned
} config_t;

typedef struct {
  uint64_t accepts;
  uint64_t accept_errors;
  uint64_t closes_eof;
  uint64_t closes_reset;
  uint64_t closes_error;
  uint64_t half_closes;
  uint64_t backpressure_pauses;
} counters_t;

typedef struct {
  uv_tcp_t handle;  // first: a uv_stream_t* of the connection is the connection
  int paused;       // reading stopped by backpressure
  int peer_closed;
} connection_t;

typedef struct {
  uv_write_t req;
  uv_buf_t buf;
} write_req_t;

static config_t config = {"127.0.0.1", 0, 16384, 1 << 20, -1};
static counters_t counters;

static void on_close(uv_handle_t* handle) { free(handle); }

// The one place a connection closes early; `error` says why (counted).
static void close_connection(uv_stream_t* stream, ssize_t error) {
  if (uv_is_closing((uv_handle_t*)stream)) return;
  if (error == UV_ECONNRESET || error == UV_EPIPE) {
    ++counters.closes_reset;
  } else {
    ++counters.closes_error;
  }
  uv_close((uv_handle_t*)stream, on_close);  // cancels its queued writes (their callbacks run)
}

static void on_alloc(uv_handle_t* handle, size_t suggested_size, uv_buf_t* buf) {
  (void)handle;
  (void)suggested_size;  // 64 KiB; the contract's read size is ours
  buf->base = malloc(config.read_size);
  buf->len = buf->base != NULL ? config.read_size : 0;  // 0: the read callback gets UV_ENOBUFS
}

static void on_shutdown(uv_shutdown_t* req, int status) {
  uv_stream_t* stream = req->handle;
  free(req);
  if (status == 0) {
    ++counters.closes_eof;
    uv_close((uv_handle_t*)stream, on_close);
  } else {
    close_connection(stream, status);
  }
}

static void resume_when_drained(uv_stream_t* stream);

static void on_write(uv_write_t* req, int status) {
  write_req_t* write = (write_req_t*)req;
  uv_stream_t* stream = req->handle;
  free(write->buf.base);
  free(write);
  if (status < 0) {
    if (status != UV_ECANCELED) close_connection(stream, status);
    return;
  }
  resume_when_drained(stream);
}

static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  connection_t* connection = (connection_t*)stream;
  if (nread <= 0) {
    free(buf->base);
    if (nread == UV_EOF) {  // flush what is owed, then close (libuv has stopped reading)
      connection->peer_closed = 1;
      if (uv_stream_get_write_queue_size(stream) > 0) ++counters.half_closes;
      uv_shutdown_t* shutdown = malloc(sizeof *shutdown);
      if (shutdown == NULL || uv_shutdown(shutdown, stream, on_shutdown) != 0) {
        free(shutdown);
        close_connection(stream, UV_ENOMEM);
      }
    } else if (nread < 0) {
      close_connection(stream, nread);
    }
    return;  // 0: EAGAIN, nothing read
  }
  write_req_t* write = malloc(sizeof *write);
  if (write == NULL) {
    free(buf->base);
    close_connection(stream, UV_ENOMEM);
    return;
  }
  // A short read gives back the unused tail of its buffer, so a queued write holds about what it
  // carries and the cap in bytes also bounds memory (glibc shrinks in place).
  char* base = buf->base;
  if ((size_t)nread < config.read_size / 2) {
    char* shrunk = realloc(base, (size_t)nread);
    if (shrunk != NULL) base = shrunk;
  }
  write->buf = uv_buf_init(base, (unsigned int)nread);
  const int error = uv_write(&write->req, stream, &write->buf, 1, on_write);
  if (error != 0) {
    free(base);
    free(write);
    close_connection(stream, error);
    return;
  }
  if (!connection->paused && uv_stream_get_write_queue_size(stream) > config.max_pending) {
    connection->paused = 1;
    ++counters.backpressure_pauses;
    uv_read_stop(stream);
  }
}

static void resume_when_drained(uv_stream_t* stream) {
  connection_t* connection = (connection_t*)stream;
  if (!connection->paused || connection->peer_closed || uv_is_closing((uv_handle_t*)stream) ||
      uv_stream_get_write_queue_size(stream) > config.max_pending) {
    return;
  }
  connection->paused = 0;
  const int error = uv_read_start(stream, on_alloc, on_read);
  if (error != 0) close_connection(stream, error);
}

static void on_connection(uv_stream_t* server, int status) {
  if (status < 0) {  // EMFILE never gets here: libuv's reserve descriptor absorbs it
    ++counters.accept_errors;
    return;
  }
  connection_t* connection = calloc(1, sizeof *connection);
  if (connection == NULL) {
    ++counters.accept_errors;
    return;
  }
  uv_tcp_init(server->loop, &connection->handle);
  uv_stream_t* stream = (uv_stream_t*)&connection->handle;
  if (uv_accept(server, stream) != 0) {
    ++counters.accept_errors;
    uv_close((uv_handle_t*)stream, on_close);
    return;
  }
  ++counters.accepts;
  uv_tcp_nodelay(&connection->handle, 1);
  const int error = uv_read_start(stream, on_alloc, on_read);
  if (error != 0) close_connection(stream, error);
}

static void close_handle(uv_handle_t* handle, void* listener) {
  if (uv_is_closing(handle)) return;
  // Connections are the only heap-allocated handles: the listener and signals live in main.
  uv_close(handle, handle->type == UV_TCP && handle != listener ? on_close : NULL);
}

static void on_signal(uv_signal_t* signal_handle, int signal_number) {
  (void)signal_number;
  uv_walk(signal_handle->loop, close_handle, signal_handle->data);
  // Closing the signal handles gave SIGINT/SIGTERM their default action back: a second signal
  // while the loop winds down must not kill the process.
  signal(SIGINT, SIG_IGN);
  signal(SIGTERM, SIG_IGN);
}

// ---- Command line

static void usage_error(const char* format, const char* value) {
  fprintf(stderr, "%s: ", kProgram);
  fprintf(stderr, format, value);
  fputc('\n', stderr);
  exit(kExitUsage);
}

static unsigned long long parse_number(const char* option, const char* text, unsigned long long min,
                                       unsigned long long max) {
  char* end = NULL;
  errno = 0;
  const unsigned long long value = strtoull(text, &end, 10);
  if (text[0] < '0' || text[0] > '9' || *end != '\0' || errno != 0 || value < min || value > max) {
    fprintf(stderr, "%s: %s %s: expected a whole number from %llu to %llu\n", kProgram, option,
            text, min, max);
    exit(kExitUsage);
  }
  return value;
}

static void print_help(void) {
  printf(
      "Usage: %s [--bind ADDRESS] [--port PORT] [--read-size BYTES] [--max-pending BYTES] "
      "[--cpu N]\n"
      "A TCP echo server on libuv with muxbench's echo contract.\n"
      "  --bind ADDRESS       IPv4 address to listen on (default 127.0.0.1: an open echo port is\n"
      "                       a reflection vector)\n"
      "  --port PORT          TCP port; 0 picks a free one (default 0)\n"
      "  --read-size BYTES    bytes asked for by each read (default 16384)\n"
      "  --max-pending BYTES  per-connection cap on unsent echo bytes; reading pauses above it\n"
      "                       (default 1048576)\n"
      "  --cpu N              pin the server to this CPU\n"
      "Prints 'listening ADDRESS:PORT' on stdout once it accepts connections. SIGINT/SIGTERM\n"
      "stop it (exit code 0). Exit code 2: bad usage; 1: fatal error.\n",
      kProgram);
}

static void parse_arguments(int argc, char** argv) {
  static const struct option options[] = {{"bind", required_argument, NULL, 'b'},
                                          {"port", required_argument, NULL, 'p'},
                                          {"read-size", required_argument, NULL, 'r'},
                                          {"max-pending", required_argument, NULL, 'm'},
                                          {"cpu", required_argument, NULL, 'c'},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};
  opterr = 0;  // one line of our own instead of getopt's
  for (;;) {
    const int option = getopt_long(argc, argv, "", options, NULL);
    if (option == -1) break;
    switch (option) {
      case 'b':
        config.bind = optarg;
        break;
      case 'p':
        config.port = (int)parse_number("--port", optarg, 0, 65535);
        break;
      case 'r':
        config.read_size = (size_t)parse_number("--read-size", optarg, 1, 16u << 20);
        break;
      case 'm':
        config.max_pending = (size_t)parse_number("--max-pending", optarg, 1, 1u << 30);
        break;
      case 'c':
        config.cpu = (int)parse_number("--cpu", optarg, 0, CPU_SETSIZE - 1);
        break;
      case 'h':
        print_help();
        exit(0);
      default:
        usage_error("unknown option or missing value: %s", argv[optind - 1]);
    }
  }
  if (optind < argc) usage_error("unexpected argument: %s", argv[optind]);
}

static void pin_to_cpu(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0 && !CPU_ISSET(cpu, &set)) {
    fprintf(stderr, "%s: --cpu %d: not among the CPUs this process may use\n", kProgram, cpu);
    exit(kExitUsage);
  }
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof set, &set) != 0) {
    fprintf(stderr, "%s: --cpu %d: %s\n", kProgram, cpu, strerror(errno));
    exit(kExitUsage);
  }
}

static void raise_fd_limit_to_hard(struct rlimit* limit) {
  if (getrlimit(RLIMIT_NOFILE, limit) != 0) return;
  if (limit->rlim_cur != limit->rlim_max) {
    const struct rlimit raised = {limit->rlim_max, limit->rlim_max};
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit->rlim_cur = limit->rlim_max;
  }
}

int main(int argc, char** argv) {
  parse_arguments(argc, argv);
  if (config.cpu >= 0) pin_to_cpu(config.cpu);
  signal(SIGPIPE, SIG_IGN);
  struct rlimit limit = {0, 0};
  raise_fd_limit_to_hard(&limit);

  uv_loop_t* loop = uv_default_loop();
  struct sockaddr_in address;
  if (uv_ip4_addr(config.bind, config.port, &address) != 0) {
    usage_error("--bind %s: not an IPv4 address", config.bind);
  }
  uv_tcp_t server;
  uv_tcp_init(loop, &server);
  // Before listening: a client may see the port open (readiness) and signal at once.
  uv_signal_t sigint;
  uv_signal_t sigterm;
  uv_signal_init(loop, &sigint);
  uv_signal_init(loop, &sigterm);
  sigint.data = sigterm.data = &server;
  uv_signal_start(&sigint, on_signal, SIGINT);
  uv_signal_start(&sigterm, on_signal, SIGTERM);
  int error = uv_tcp_bind(&server, (const struct sockaddr*)&address, 0);
  if (error == 0) error = uv_listen((uv_stream_t*)&server, SOMAXCONN, on_connection);
  if (error != 0) {
    fprintf(stderr, "%s: cannot listen on %s:%d: %s\n", kProgram, config.bind, config.port,
            uv_strerror(error));
    return kExitUsage;
  }
  struct sockaddr_in bound;
  int length = sizeof bound;
  uv_tcp_getsockname(&server, (struct sockaddr*)&bound, &length);

  fprintf(stderr, "%s: libuv %s, fd limit %llu (hard %llu), read size %zu, max pending %zu%s\n",
          kProgram, uv_version_string(), (unsigned long long)limit.rlim_cur,
          (unsigned long long)limit.rlim_max, config.read_size, config.max_pending,
          config.cpu >= 0 ? ", pinned" : "");
  printf("listening %s:%d\n", config.bind, ntohs(bound.sin_port));
  fflush(stdout);

  uv_run(loop, UV_RUN_DEFAULT);  // returns once a signal has closed every handle
  error = uv_loop_close(loop);
  fprintf(stderr,
          "%s: stopped: accepts %llu, accept_errors %llu, closes_eof %llu, closes_reset %llu, "
          "closes_error %llu, half_closes %llu, backpressure_pauses %llu\n",
          kProgram, (unsigned long long)counters.accepts,
          (unsigned long long)counters.accept_errors, (unsigned long long)counters.closes_eof,
          (unsigned long long)counters.closes_reset, (unsigned long long)counters.closes_error,
          (unsigned long long)counters.half_closes,
          (unsigned long long)counters.backpressure_pauses);
  return error == 0 ? 0 : 1;
}
