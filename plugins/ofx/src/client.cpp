#include "client.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>

extern char **environ;

namespace flowfill {

namespace {

constexpr char kMagic[4] = {'F', 'F', 'S', '1'};
constexpr uint32_t kMaxHeader = 1u << 20;
// Once a frame has started, its remaining bytes must arrive within this long.
constexpr int kMidFrameTimeoutMs = 120000;
constexpr const char *kClientName = "flowfill-ofx 0.1.0";

std::string errno_text(int e) { return std::strerror(e); }

void put_u32(unsigned char *p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}
void put_u64(unsigned char *p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}
uint32_t get_u32(const unsigned char *p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
uint64_t get_u64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

bool make_dirs(const std::string &dir, mode_t mode) {
  if (dir.empty()) return true;
  struct stat st;
  if (stat(dir.c_str(), &st) == 0) return S_ISDIR(st.st_mode);
  size_t slash = dir.find_last_of('/');
  if (slash != std::string::npos && slash > 0 && !make_dirs(dir.substr(0, slash), 0755))
    return false;
  return mkdir(dir.c_str(), mode) == 0 || errno == EEXIST;
}

std::string dirname_of(const std::string &path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return "";
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string last_log_line(const std::string &path) {
  std::ifstream in(path);
  std::string line, last;
  while (std::getline(in, line))
    if (line.find_first_not_of(" \t\r") != std::string::npos) last = line;
  if (last.size() > 300) last = last.substr(0, 300) + "...";
  return last;
}

// The executable to start: $FLOWFILL_EXECUTABLE or `flowfill`, looked up on PATH here (not in
// the forked child, where only async-signal-safe calls are allowed).
bool find_executable(std::string *exe, std::string *error) {
  const char *env = std::getenv("FLOWFILL_EXECUTABLE");
  std::string name = env && *env ? env : "flowfill";
  if (name.find('/') != std::string::npos) {
    if (access(name.c_str(), X_OK) != 0) {
      *error = "cannot run " + name + " (FLOWFILL_EXECUTABLE): " + errno_text(errno);
      return false;
    }
    *exe = name;
    return true;
  }
  const char *path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string dir = dirs.substr(start, end - start);
    if (dir.empty()) dir = ".";
    std::string candidate = dir + "/" + name;
    struct stat st;
    if (stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        access(candidate.c_str(), X_OK) == 0) {
      *exe = candidate;
      return true;
    }
    start = end + 1;
  }
  *error = "'" + name + "' was not found on PATH";
  return false;
}

// The host's install folder: its executable's folder, or the one above a bin/ folder (e.g.
// /opt/resolve for /opt/resolve/bin/resolve).
std::string host_install_root() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "";
  buf[n] = '\0';
  std::string dir = dirname_of(buf);
  std::string base = dir.substr(dir.find_last_of('/') + 1);
  if (base == "bin" || base == "MacOS") dir = dirname_of(dir);
  if (dir == "/" || dir == "/usr" || dir == "/usr/local" || dir == "/bin") return "";
  return dir;
}

// The environment for the server: the host's, minus what hosts set for their own libraries
// and Python, which would break the server's interpreter and torch: PYTHONHOME, PYTHONPATH,
// and LD_LIBRARY_PATH entries inside the host's install folder.
std::vector<std::string> server_environment() {
  const std::string root = host_install_root();
  std::vector<std::string> env;
  for (char **e = environ; e && *e; ++e) {
    if (std::strncmp(*e, "PYTHONHOME=", 11) == 0 || std::strncmp(*e, "PYTHONPATH=", 11) == 0)
      continue;
    if (std::strncmp(*e, "LD_LIBRARY_PATH=", 16) == 0 && !root.empty()) {
      std::string kept, list = *e + 16;
      size_t start = 0;
      while (start <= list.size()) {
        size_t end = list.find(':', start);
        if (end == std::string::npos) end = list.size();
        std::string item = list.substr(start, end - start);
        bool inside = item == root || item.rfind(root + "/", 0) == 0;
        if (!item.empty() && !inside) kept += (kept.empty() ? "" : ":") + item;
        start = end + 1;
      }
      if (!kept.empty()) env.push_back("LD_LIBRARY_PATH=" + kept);
      continue;
    }
    env.emplace_back(*e);
  }
  return env;
}

// Unlink shared-memory objects named /flowfill-PID-... of this user whose process is gone
// (left by a host that crashed); once per process.
void remove_stale_blocks() {
  static std::atomic<bool> done{false};
  if (done.exchange(true)) return;
  DIR *d = opendir("/dev/shm");
  if (!d) return;
  while (struct dirent *e = readdir(d)) {
    std::string name = e->d_name;
    if (name.rfind("flowfill-", 0) != 0) continue;
    char *end = nullptr;
    long pid = std::strtol(name.c_str() + 9, &end, 10);
    if (pid <= 0 || !end || *end != '-') continue;
    struct stat st;
    std::string path = "/dev/shm/" + name;
    if (stat(path.c_str(), &st) != 0 || st.st_uid != getuid()) continue;
    if (kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) {
      debug_log("removing stale shared memory %s", name.c_str());
      shm_unlink(("/" + name).c_str());
    }
  }
  closedir(d);
}

bool process_gone(pid_t pid) {
  if (pid <= 0) return false;
  if (kill(pid, 0) != 0 && errno == ESRCH) return true;
  // A child of an init that does not reap stays a zombie: count that as gone too.
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
  std::ifstream in(path);
  std::string stat;
  if (!std::getline(in, stat)) return false;
  size_t paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'Z';
}

}  // namespace

int64_t now_ms() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

void debug_log(const char *fmt, ...) {
  static const bool on = [] {
    const char *v = std::getenv("FLOWFILL_OFX_LOG");
    return v && *v && std::strcmp(v, "0") != 0;
  }();
  if (!on) return;
  char buf[2048];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  std::fprintf(stderr, "[flowfill-ofx %d] %s\n", static_cast<int>(getpid()), buf);
}

// ---------------------------------------------------------------------------------------------
// Endpoint

std::string Endpoint::default_socket_path() {
  const char *runtime = std::getenv("XDG_RUNTIME_DIR");
  if (runtime && *runtime) return std::string(runtime) + "/flowfill/server.sock";
  return "/tmp/flowfill-" + std::to_string(static_cast<unsigned>(getuid())) + "/server.sock";
}

Endpoint Endpoint::resolve(const std::string &param) {
  std::string text = param;
  if (text.empty()) {
    const char *env = std::getenv("FLOWFILL_SERVER");
    if (env && *env) text = env;
  }
  Endpoint ep;
  if (text.rfind("tcp://", 0) == 0) {
    ep.tcp = true;
    std::string rest = text.substr(6);
    // "tcp://HOST:PORT" optionally followed by " TOKEN" (the ready file's form).
    size_t space = rest.find(' ');
    if (space != std::string::npos) {
      ep.token = rest.substr(space + 1);
      rest = rest.substr(0, space);
    }
    size_t colon = rest.rfind(':');
    ep.host = colon == std::string::npos ? rest : rest.substr(0, colon);
    if (!ep.host.empty() && ep.host.front() == '[' && ep.host.back() == ']')
      ep.host = ep.host.substr(1, ep.host.size() - 2);
    ep.port = colon == std::string::npos ? 0 : std::atoi(rest.c_str() + colon + 1);
    if (ep.token.empty()) {
      const char *tok = std::getenv("FLOWFILL_SERVER_TOKEN");
      if (tok) ep.token = tok;
    }
    ep.text = "tcp://" + rest;
    return ep;
  }
  ep.path = text.empty() ? default_socket_path() : text;
  ep.text = ep.path;
  return ep;
}

// ---------------------------------------------------------------------------------------------
// Connection

bool Connection::open(const Endpoint &ep, int timeout_ms, std::string *error, bool *refused) {
  close();
  *refused = false;
  int fd = -1;
  int rc = -1;
  if (!ep.tcp) {
    struct sockaddr_un addr;
    std::memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    if (ep.path.size() >= sizeof addr.sun_path) {
      *error = "socket path is too long (" + std::to_string(ep.path.size()) +
               " characters; at most " + std::to_string(sizeof addr.sun_path - 1) + "): " +
               ep.path;
      return false;
    }
    std::memcpy(addr.sun_path, ep.path.c_str(), ep.path.size());
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
      *error = "socket: " + errno_text(errno);
      return false;
    }
    rc = connect(fd, reinterpret_cast<struct sockaddr *>(&addr), sizeof addr);
  } else {
    if (ep.host != "127.0.0.1" && ep.host != "localhost" && ep.host != "::1") {
      *error = "only loopback servers are accepted, not " + ep.text;
      return false;
    }
    if (ep.port <= 0 || ep.port > 65535) {
      *error = "bad port in " + ep.text;
      return false;
    }
    bool v6 = ep.host == "::1";
    fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
      *error = "socket: " + errno_text(errno);
      return false;
    }
    if (v6) {
      struct sockaddr_in6 a6;
      std::memset(&a6, 0, sizeof a6);
      a6.sin6_family = AF_INET6;
      a6.sin6_port = htons(static_cast<uint16_t>(ep.port));
      a6.sin6_addr = in6addr_loopback;
      rc = connect(fd, reinterpret_cast<struct sockaddr *>(&a6), sizeof a6);
    } else {
      struct sockaddr_in a4;
      std::memset(&a4, 0, sizeof a4);
      a4.sin_family = AF_INET;
      a4.sin_port = htons(static_cast<uint16_t>(ep.port));
      a4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      rc = connect(fd, reinterpret_cast<struct sockaddr *>(&a4), sizeof a4);
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  if (rc != 0 && errno == EINPROGRESS) {
    struct pollfd p = {fd, POLLOUT, 0};
    int n = poll(&p, 1, timeout_ms);
    if (n <= 0) {
      ::close(fd);
      *error = n == 0 ? "connection timed out" : "poll: " + errno_text(errno);
      return false;
    }
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      errno = err;
      rc = -1;
    } else {
      rc = 0;
    }
  }
  if (rc != 0) {
    int e = errno;
    ::close(fd);
    *refused = e == ENOENT || e == ECONNREFUSED;
    *error = errno_text(e);
    return false;
  }
  // Blocking from here on; writes that stall for two minutes fail rather than hang.
  int flags = fcntl(fd, F_GETFL);
  fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  struct timeval tv = {kMidFrameTimeoutMs / 1000, 0};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  fd_ = fd;
  return true;
}

void Connection::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void Connection::write_all(const void *data, size_t size) {
  const char *p = static_cast<const char *>(data);
  while (size > 0) {
    ssize_t n = ::send(fd_, p, size, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      close();
      if (e == EAGAIN || e == EWOULDBLOCK) throw IoError("the server stopped reading");
      throw IoError("lost the connection to the server (" + errno_text(e) + ")");
    }
    p += n;
    size -= static_cast<size_t>(n);
  }
}

void Connection::send(const Json &header, const void *payload, size_t size) {
  if (fd_ < 0) throw IoError("not connected to the server");
  std::string h = header.dump();
  unsigned char prefix[16];
  std::memcpy(prefix, kMagic, 4);
  put_u32(prefix + 4, static_cast<uint32_t>(h.size()));
  put_u64(prefix + 8, static_cast<uint64_t>(size));
  std::string head(reinterpret_cast<char *>(prefix), 16);
  head += h;
  if (payload && size > 0 && size <= 65536) {
    head.append(static_cast<const char *>(payload), size);
    write_all(head.data(), head.size());
  } else {
    write_all(head.data(), head.size());
    if (payload && size > 0) write_all(payload, size);
  }
}

bool Connection::wait_readable(int timeout_ms) {
  if (fd_ < 0) throw IoError("not connected to the server");
  struct pollfd p = {fd_, POLLIN, 0};
  while (true) {
    int n = poll(&p, 1, timeout_ms);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw IoError("poll: " + errno_text(errno));
    return n > 0;
  }
}

void Connection::read_all(void *data, size_t size, int timeout_ms) {
  char *p = static_cast<char *>(data);
  while (size > 0) {
    if (!wait_readable(timeout_ms)) {
      close();
      throw IoError("the server stopped in the middle of a message");
    }
    ssize_t n = ::recv(fd_, p, size, 0);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      int e = errno;
      close();
      throw IoError("lost the connection to the server (" + errno_text(e) + ")");
    }
    if (n == 0) {
      close();
      throw IoError("the server closed the connection");
    }
    p += n;
    size -= static_cast<size_t>(n);
  }
}

bool Connection::receive(Message &out, int timeout_ms) {
  if (fd_ < 0) throw IoError("not connected to the server");
  if (!wait_readable(timeout_ms)) return false;
  unsigned char prefix[16];
  read_all(prefix, sizeof prefix, kMidFrameTimeoutMs);
  if (std::memcmp(prefix, kMagic, 4) != 0) {
    close();
    throw IoError("the server sent something that is not a protocol frame");
  }
  uint32_t hlen = get_u32(prefix + 4);
  uint64_t plen = get_u64(prefix + 8);
  if (hlen > kMaxHeader || plen > (uint64_t(1) << 40)) {
    close();
    throw IoError("the server sent an oversize frame");
  }
  std::string h(hlen, '\0');
  if (hlen) read_all(&h[0], hlen, kMidFrameTimeoutMs);
  out.payload.resize(plen);
  if (plen) read_all(out.payload.data(), plen, kMidFrameTimeoutMs);
  try {
    out.header = Json::parse(h);
  } catch (const JsonError &e) {
    close();
    throw IoError(std::string("the server sent a bad header: ") + e.what());
  }
  if (!out.header.is_object()) {
    close();
    throw IoError("the server sent a header that is not a JSON object");
  }
  return true;
}

bool say_hello(Connection &conn, const Endpoint &ep, int timeout_ms, Json *reply,
               std::string *error, bool *io_failure) {
  if (io_failure) *io_failure = false;
  Json hello = Json::object();
  hello.set("op", "hello");
  hello.set("version", 1);
  hello.set("client", kClientName);
  if (ep.tcp) hello.set("token", ep.token);
  try {
    conn.send(hello);
    Message m;
    int64_t deadline = now_ms() + timeout_ms;
    while (true) {
      int left = static_cast<int>(deadline - now_ms());
      if (left <= 0 || !conn.receive(m, left)) {
        *error = "the server did not answer hello";
        conn.close();
        return false;
      }
      if (m.header.str("op") == "progress") continue;  // not expected; ignore
      break;
    }
    if (!m.header.boolean("ok")) {
      *error = m.header.str("error", "hello refused");
      std::string code = m.header.str("code");
      if (!code.empty()) *error = code + ": " + *error;
      conn.close();
      return false;
    }
    if (reply) *reply = m.header;
    return true;
  } catch (const IoError &e) {
    *error = e.what();
    if (io_failure) *io_failure = true;
    conn.close();
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Shared memory

bool SharedBlock::ensure(size_t size, std::string *error) {
  if (data_ && size_ >= size) return true;
  release();
  remove_stale_blocks();
  static std::atomic<unsigned> counter{0};
  size_t want = size < 4096 ? 4096 : size;
  for (int attempt = 0; attempt < 8; ++attempt) {
    std::string name = "/flowfill-" + std::to_string(static_cast<int>(getpid())) + "-" +
                       std::to_string(counter++);
    int fd = shm_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
    if (fd < 0) {
      if (errno == EEXIST) continue;
      *error = "shm_open: " + errno_text(errno);
      return false;
    }
    if (ftruncate(fd, static_cast<off_t>(want)) != 0) {
      *error = "shared memory of " + std::to_string(want) + " bytes: " + errno_text(errno);
      ::close(fd);
      shm_unlink(name.c_str());
      return false;
    }
    void *p = mmap(nullptr, want, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ::close(fd);
    if (p == MAP_FAILED) {
      *error = "mmap: " + errno_text(errno);
      shm_unlink(name.c_str());
      return false;
    }
    name_ = name;
    data_ = p;
    size_ = want;
    return true;
  }
  *error = "could not create a shared-memory object";
  return false;
}

void SharedBlock::release() {
  if (data_) munmap(data_, size_);
  if (!name_.empty()) shm_unlink(name_.c_str());
  data_ = nullptr;
  size_ = 0;
  name_.clear();
}

// ---------------------------------------------------------------------------------------------
// Starting a server

namespace {

// Holds an exclusive flock on PATH.lock so that two processes do not both start a server.
class StartLock {
 public:
  bool acquire(const std::string &path, int timeout_ms) {
    fd_ = ::open(path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600);
    if (fd_ < 0) return true;  // cannot lock (read-only dir?): go on without
    int64_t deadline = now_ms() + timeout_ms;
    while (flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      if (now_ms() > deadline) return false;
      usleep(50000);
    }
    return true;
  }
  ~StartLock() {
    if (fd_ >= 0) ::close(fd_);  // closing drops the lock
  }

 private:
  int fd_ = -1;
};

bool answers(const Endpoint &ep, bool *refused) {
  Connection probe;
  std::string err;
  if (!probe.open(ep, 2000, &err, refused)) return false;
  return say_hello(probe, ep, 5000, nullptr, &err);
}

}  // namespace

bool start_server(const Endpoint &ep, int timeout_ms, const std::function<bool()> &alive,
                  std::string *error) {
  if (ep.tcp) {
    *error = "nothing answers at " + ep.text +
             " (a TCP server is not started automatically: run flowfill serve --tcp)";
    return false;
  }
  std::string dir = dirname_of(ep.path);
  if (!make_dirs(dir, 0700)) {
    *error = "cannot create the folder " + dir + ": " + errno_text(errno);
    return false;
  }
  StartLock lock;
  if (!lock.acquire(ep.path + ".lock", timeout_ms)) {
    *error = "timed out waiting for another process starting the server";
    return false;
  }
  bool refused = false;
  if (answers(ep, &refused)) return true;  // someone else started one meanwhile

  std::string exe;
  if (!find_executable(&exe, error)) return false;

  // Prepare everything the child needs before forking.
  std::string ready = ep.path + ".ready";
  std::string log = ep.path + ".log";
  unlink(ready.c_str());
  struct stat st;
  if (refused && lstat(ep.path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode))
    unlink(ep.path.c_str());  // a socket nobody listens on: left by a server that died
  std::vector<std::string> args = {exe, "serve", "--socket", ep.path, "--idle-timeout", "900",
                                   "--ready-file", ready};
  std::vector<char *> argv;
  for (auto &a : args) argv.push_back(&a[0]);
  argv.push_back(nullptr);
  std::vector<std::string> env_store = server_environment();
  std::vector<char *> envp;
  for (auto &e : env_store) envp.push_back(&e[0]);
  envp.push_back(nullptr);
  int logfd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  int nullfd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  // pidfd carries the server's pid from the first child; execfd an errno when exec fails
  // (it closes silently on a successful exec).
  int pidfd[2], execfd[2];
  if (pipe2(pidfd, O_CLOEXEC) != 0) {
    *error = "pipe: " + errno_text(errno);
    if (logfd >= 0) ::close(logfd);
    if (nullfd >= 0) ::close(nullfd);
    return false;
  }
  if (pipe2(execfd, O_CLOEXEC) != 0) {
    *error = "pipe: " + errno_text(errno);
    for (int fd : {pidfd[0], pidfd[1], logfd, nullfd})
      if (fd >= 0) ::close(fd);
    return false;
  }
  long maxfd = sysconf(_SC_OPEN_MAX);
  if (maxfd < 0 || maxfd > 65536) maxfd = 65536;

  debug_log("starting %s serve --socket %s", exe.c_str(), ep.path.c_str());
  pid_t child = fork();
  if (child < 0) {
    *error = "fork: " + errno_text(errno);
    for (int fd : {pidfd[0], pidfd[1], execfd[0], execfd[1], logfd, nullfd})
      if (fd >= 0) ::close(fd);
    return false;
  }
  if (child == 0) {
    // First child: new session, then fork again so the server is not our child.
    setsid();
    pid_t server = fork();
    if (server != 0) {
      int value = static_cast<int>(server);
      if (write(pidfd[1], &value, sizeof value) < 0) _exit(1);
      _exit(server > 0 ? 0 : 1);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    struct sigaction dfl;
    std::memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGCHLD, SIGQUIT, SIGUSR1, SIGUSR2})
      sigaction(sig, &dfl, nullptr);
    if (nullfd >= 0) dup2(nullfd, 0);
    int out = logfd >= 0 ? logfd : nullfd;
    if (out >= 0) {
      dup2(out, 1);
      dup2(out, 2);
    }
    for (long fd = 3; fd < maxfd; ++fd)
      if (fd != execfd[1]) ::close(static_cast<int>(fd));
    execve(argv[0], argv.data(), envp.data());
    int e = errno;
    if (write(execfd[1], &e, sizeof e) < 0) _exit(127);
    _exit(127);
  }
  ::close(pidfd[1]);
  ::close(execfd[1]);
  if (logfd >= 0) ::close(logfd);
  if (nullfd >= 0) ::close(nullfd);
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  int server_pid = -1, exec_errno = 0;
  if (read(pidfd[0], &server_pid, sizeof server_pid) != static_cast<ssize_t>(sizeof server_pid))
    server_pid = -1;
  ::close(pidfd[0]);
  ssize_t got = 0;
  if (server_pid > 0) {
    while ((got = read(execfd[0], &exec_errno, sizeof exec_errno)) < 0 && errno == EINTR) {
    }
  }
  ::close(execfd[0]);
  if (server_pid <= 0) {
    *error = "could not start " + exe + " (fork failed)";
    return false;
  }
  if (got == static_cast<ssize_t>(sizeof exec_errno)) {
    *error = "could not run " + exe + ": " + errno_text(exec_errno);
    return false;
  }

  int64_t deadline = now_ms() + timeout_ms;
  while (now_ms() < deadline) {
    if (answers(ep, &refused)) {
      debug_log("server pid %d answers at %s", server_pid, ep.path.c_str());
      return true;
    }
    if (process_gone(server_pid)) {
      std::string last = last_log_line(log);
      *error = exe + " serve exited at start" + (last.empty() ? "" : ": " + last) +
               " (log: " + log + ")";
      return false;
    }
    if (alive && !alive()) {
      *error = "cancelled while the server was starting";
      return false;
    }
    usleep(100000);
  }
  *error = exe + " serve did not answer within " + std::to_string(timeout_ms / 1000) +
           " s (log: " + log + ")";
  return false;
}

}  // namespace flowfill
