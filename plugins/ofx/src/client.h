// The client side of the flowfill render server protocol (plugins/PROTOCOL.md): where the
// server is, one framed connection to it, a shared-memory block for pixels, and starting a
// server when none answers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "json.h"

namespace flowfill {

// A failure talking to the server: the connection is no longer usable.
struct IoError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Where the server listens: a Unix socket path, or loopback TCP with its token.
struct Endpoint {
  bool tcp = false;
  std::string path;   // Unix socket
  std::string host;   // TCP
  int port = 0;
  std::string token;  // TCP token (FLOWFILL_SERVER_TOKEN)
  std::string text;   // as the user would write it, for messages

  // The socket parameter if not empty, else $FLOWFILL_SERVER, else the default path.
  static Endpoint resolve(const std::string &param);
  static std::string default_socket_path();
};

// One message: a JSON header and a raw payload.
struct Message {
  Json header;
  std::vector<unsigned char> payload;
};

class Connection {
 public:
  Connection() = default;
  ~Connection() { close(); }
  Connection(const Connection &) = delete;
  Connection &operator=(const Connection &) = delete;

  // Connect within timeout_ms. On failure returns false, sets *error and *refused (true when
  // nothing listens at the address: no socket file, or connection refused).
  bool open(const Endpoint &ep, int timeout_ms, std::string *error, bool *refused);
  void close();
  bool is_open() const { return fd_ >= 0; }
  int fd() const { return fd_; }

  // Send one frame (header + payload); throws IoError.
  void send(const Json &header, const void *payload = nullptr, size_t size = 0);
  // Receive one frame, waiting at most timeout_ms for it to start (-1: forever); returns
  // false on timeout. Throws IoError on end of stream or a malformed frame.
  bool receive(Message &out, int timeout_ms);
  // Wait until a frame can be read or timeout_ms passes; true when readable.
  bool wait_readable(int timeout_ms);

 private:
  void write_all(const void *data, size_t size);
  void read_all(void *data, size_t size, int timeout_ms);
  int fd_ = -1;
};

// A POSIX shared-memory object owned by this process (name /flowfill-PID-N).
class SharedBlock {
 public:
  SharedBlock() = default;
  ~SharedBlock() { release(); }
  SharedBlock(const SharedBlock &) = delete;
  SharedBlock &operator=(const SharedBlock &) = delete;

  // Make the block at least `size` bytes (recreated under a new name when it grows).
  bool ensure(size_t size, std::string *error);
  void release();
  void *data() const { return data_; }
  size_t size() const { return size_; }
  const std::string &name() const { return name_; }

 private:
  std::string name_;
  void *data_ = nullptr;
  size_t size_ = 0;
};

// Send hello on a fresh connection and read the answer (capabilities etc.) into *reply.
// *io_failure (optional) tells a dropped connection apart from a refusal by the server.
bool say_hello(Connection &conn, const Endpoint &ep, int timeout_ms, Json *reply,
               std::string *error, bool *io_failure = nullptr);

// Start `flowfill serve` for a Unix socket endpoint and wait until it answers hello.
// `alive` is polled while waiting and returns false to give up (abort). Returns true when a
// server answers (started by us or by someone else meanwhile); otherwise false with *error.
bool start_server(const Endpoint &ep, int timeout_ms, const std::function<bool()> &alive,
                  std::string *error);

// Monotonic milliseconds.
int64_t now_ms();

// Debug log to stderr when FLOWFILL_OFX_LOG is set.
void debug_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

}  // namespace flowfill
