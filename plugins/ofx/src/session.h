// One plug-in instance's conversation with the render server: connection (auto-started),
// the open shot, frames_needed, and the need -> put -> render loop of one frame.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "client.h"
#include "json.h"

namespace flowfill {

// What a shot is: reopened whenever any of it changes.
struct ShotSpec {
  int width = 0, height = 0;
  long long first = 0, last = 0;
  int channels = 4;
  std::string mask = "alpha";  // "alpha" or "separate"
  Json options = Json::object();
  double threshold = 0.0;  // the plug-in's matte threshold: changes what is put

  std::string key() const;
  // Floats in one put payload: the frame, then the mask when it is separate.
  size_t put_floats() const {
    size_t n = static_cast<size_t>(width) * static_cast<size_t>(height);
    return n * static_cast<size_t>(channels) + (mask == "separate" ? n : 0);
  }
  size_t result_floats() const {
    return static_cast<size_t>(width) * static_cast<size_t>(height) *
           static_cast<size_t>(channels);
  }
};

using FrameRanges = std::vector<std::pair<long long, long long>>;

struct RenderHooks {
  std::function<bool()> aborted;  // polled while waiting
  // Progress of the whole render, 0..1: the transfer of many frames, then the server's work.
  std::function<void(double fraction, const std::string &stage)> progress;
  // Write frame `frame` (and its mask) as put_floats() floats, top-down rows, into dst.
  std::function<bool(long long frame, float *dst, std::string *error)> fetch;
  // The filled frame: result_floats() floats, top-down rows.
  std::function<void(const float *pixels)> result;
};

enum class Outcome { Done, Failed, Aborted };

class Session {
 public:
  Session() = default;
  ~Session();
  Session(const Session &) = delete;
  Session &operator=(const Session &) = delete;

  // Connect to the server named by the parameter (else $FLOWFILL_SERVER, else the default
  // path), starting one if nothing answers and `autostart` is set.
  bool connect(const std::string &server_param, bool autostart,
               const std::function<bool()> &alive, std::string *error);
  // Open the shot, or keep the open one when its spec is the same.
  bool open_shot(const ShotSpec &spec, std::string *error);
  bool frames_needed(long long frame, FrameRanges *ranges, std::string *error);
  Outcome render(long long frame, const RenderHooks &hooks, std::string *error);
  // Close the shot on the server (it frees its frames and results).
  void close_shot();
  void disconnect();

  bool connected() const { return conn_.is_open(); }
  bool has_shot() const { return !shot_.empty(); }
  const std::string &shot_key() const { return shot_key_; }
  const ShotSpec &spec() const { return spec_; }
  bool using_shm() const { return use_shm_; }
  const std::string &endpoint_text() const { return endpoint_.text; }

 private:
  struct Pending {
    long long id;
    long long frame;
  };
  long long next_id() { return ++last_id_; }
  // Send a request and wait (timeout_ms) for the reply with its id; pushes are dropped.
  Message request(Json header, const void *payload, size_t size, int timeout_ms);
  // Wait (timeout_ms) for the reply to request `id`; other messages are dropped.
  Message reply_to(long long id, const std::string &op, int timeout_ms);
  // The header of a request about one frame of the open shot.
  Json frame_request(const char *op, long long id, long long frame) const;
  bool put_frames(const FrameRanges &ranges, const RenderHooks &hooks, std::string *error,
                  bool *aborted);
  void fail_io(const IoError &e, std::string *error);

  Connection conn_;
  Endpoint endpoint_;
  std::string endpoint_param_;
  Json hello_;
  bool server_shm_ = false;
  bool use_shm_ = false;
  SharedBlock shm_;
  std::string shot_;
  std::string shot_key_;
  ShotSpec spec_;
  long long last_id_ = 0;
  std::vector<float> buffer_;
  bool transfer_shown_ = false;  // this render's progress bar began with a transfer
};

// Server error replies, as one line for the user.
std::string reply_error(const Json &reply);

}  // namespace flowfill
