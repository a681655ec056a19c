#include "session.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace flowfill {

namespace {

constexpr int kConnectTimeoutMs = 3000;
// Ordinary requests (open may load the engine: flow backend, edge net, torch).
constexpr int kRequestTimeoutMs = 300000;
// While a render runs: after this much silence, ask the server for progress...
constexpr int kQuietMs = 30000;
// ...and give up when that is not answered within this long.
constexpr int kHeartbeatTimeoutMs = 120000;
// After a cancel, how long the render may take to stop before the connection is dropped.
constexpr int kCancelTimeoutMs = 60000;
// Frames in flight to the server at once (shared-memory slots).
constexpr size_t kPutSlots = 4;
// A transfer of at least this many frames shows on the progress bar (its first half; the
// server's work then fills the second half).
constexpr size_t kTransferProgressFrames = 8;

int env_seconds(const char *name, int fallback) {
  const char *v = std::getenv(name);
  if (!v || !*v) return fallback;
  int s = std::atoi(v);
  return s > 0 ? s : fallback;
}

std::string transport_choice() {
  const char *v = std::getenv("FLOWFILL_TRANSPORT");
  return v ? v : "";
}

// True when the peer has closed (or reset) an otherwise idle connection.
bool peer_closed(int fd) {
  struct pollfd p = {fd, POLLIN, 0};
  if (poll(&p, 1, 0) <= 0) return false;
  if (p.revents & (POLLHUP | POLLERR)) return true;
  char c;
  ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
  return n == 0;
}

}  // namespace

std::string reply_error(const Json &reply) {
  std::string text = reply.str("error");
  if (text.empty()) text = "request failed";
  std::string code = reply.str("code");
  if (code == "version") return "the render server speaks another protocol version: " + text;
  return text;
}

std::string ShotSpec::key() const {
  Json j = Json::object();
  j.set("w", width);
  j.set("h", height);
  j.set("first", first);
  j.set("last", last);
  j.set("c", channels);
  j.set("mask", mask);
  j.set("options", options);
  j.set("threshold", threshold);
  return j.dump();
}

Session::~Session() { disconnect(); }

void Session::disconnect() {
  if (conn_.is_open() && !shot_.empty()) debug_log("closing connection (shot %s)", shot_.c_str());
  conn_.close();
  shm_.release();
  shot_.clear();
  shot_key_.clear();
}

void Session::fail_io(const IoError &e, std::string *error) {
  *error = std::string("lost the render server at ") + endpoint_.text + ": " + e.what() +
           " (it may have crashed or been stopped; rendering again starts a new one)";
  disconnect();
}

bool Session::connect(const std::string &server_param, bool autostart,
                      const std::function<bool()> &alive, std::string *error) {
  if (conn_.is_open()) {
    if (server_param == endpoint_param_ && !peer_closed(conn_.fd())) return true;
    disconnect();
  }
  endpoint_param_ = server_param;
  endpoint_ = Endpoint::resolve(server_param);
  std::string err;
  // A server that is going away (killed a moment ago) can still accept a connection and then
  // drop it: try again, and a moment later nothing listens and a new server is started.
  for (int attempt = 0;; ++attempt) {
    bool refused = false;
    if (!conn_.open(endpoint_, kConnectTimeoutMs, &err, &refused)) {
      if (!refused || !autostart) {
        *error = "cannot reach the flowfill render server at " + endpoint_.text + ": " + err;
        return false;
      }
      std::string why;
      int timeout = env_seconds("FLOWFILL_START_TIMEOUT", 60) * 1000;
      if (!start_server(endpoint_, timeout, alive, &why)) {
        *error = "no flowfill render server at " + endpoint_.text +
                 " and starting one failed: " + why +
                 ". Install flowfill or set FLOWFILL_EXECUTABLE to its flowfill command (or run "
                 "'flowfill serve' and point FLOWFILL_SERVER or the Server parameter at it)";
        return false;
      }
      if (!conn_.open(endpoint_, kConnectTimeoutMs, &err, &refused)) {
        *error = "cannot reach the flowfill render server at " + endpoint_.text + ": " + err;
        return false;
      }
    }
    bool dropped = false;
    if (say_hello(conn_, endpoint_, 30000, &hello_, &err, &dropped)) break;
    conn_.close();
    if (!dropped || attempt >= 5 || (alive && !alive())) {
      *error = "the flowfill render server at " + endpoint_.text +
               (dropped ? " dropped the connection: " : " refused the connection: ") + err;
      return false;
    }
    usleep(200000);
  }
  const Json *caps = hello_.get("capabilities");
  server_shm_ = caps && caps->boolean("shm");
  std::string t = transport_choice();
  use_shm_ = server_shm_ && t != "socket";
  if (t == "shm" && !server_shm_)
    debug_log("FLOWFILL_TRANSPORT=shm but the server offers no shared memory: using the socket");
  debug_log("connected to %s (server %s, pid %lld, transport %s)", endpoint_.text.c_str(),
            hello_.str("server").c_str(), hello_.integer("pid"), use_shm_ ? "shm" : "socket");
  last_id_ = 0;
  return true;
}

Message Session::request(Json header, const void *payload, size_t size, int timeout_ms) {
  long long id = next_id();
  header.set("id", id);
  conn_.send(header, payload, size);
  return reply_to(id, header.str("op"), timeout_ms);
}

static Json shot_field(const std::string &shot) {
  // Shots are named by the server; send back what it sent (a string).
  return Json(shot);
}

Json Session::frame_request(const char *op, long long id, long long frame) const {
  Json h = Json::object();
  h.set("op", op);
  h.set("id", id);
  h.set("shot", shot_field(shot_));
  h.set("frame", frame);
  return h;
}

Message Session::reply_to(long long id, const std::string &op, int timeout_ms) {
  Message m;
  int64_t deadline = now_ms() + timeout_ms;
  while (true) {
    int left = static_cast<int>(deadline - now_ms());
    if (left <= 0 || !conn_.receive(m, left)) {
      conn_.close();
      throw IoError("no answer to " + op + " within " + std::to_string(timeout_ms / 1000) +
                    " s");
    }
    if (m.header.integer("id", -1) == id && m.header.str("op") != "progress") return m;
    debug_log("dropping a message while waiting for %s: %s", op.c_str(),
              m.header.dump().c_str());
  }
}

void Session::close_shot() {
  if (shot_.empty() || !conn_.is_open()) {
    shot_.clear();
    shot_key_.clear();
    return;
  }
  try {
    Json h = Json::object();
    h.set("op", "close");
    h.set("shot", shot_);
    request(h, nullptr, 0, 10000);
  } catch (const IoError &) {
    disconnect();
  }
  shot_.clear();
  shot_key_.clear();
}

bool Session::open_shot(const ShotSpec &spec, std::string *error) {
  std::string key = spec.key();
  if (!shot_.empty() && key == shot_key_) return true;
  if (!shot_.empty()) close_shot();
  if (!conn_.is_open()) {
    *error = "not connected to the render server";
    return false;
  }
  try {
    Json h = Json::object();
    h.set("op", "open");
    h.set("width", spec.width);
    h.set("height", spec.height);
    h.set("first", spec.first);
    h.set("last", spec.last);
    h.set("channels", spec.channels);
    h.set("mask", spec.mask);
    h.set("options", spec.options);
    Message m = request(h, nullptr, 0, kRequestTimeoutMs);
    if (!m.header.boolean("ok")) {
      *error = reply_error(m.header);
      return false;
    }
    shot_ = m.header.str("shot");
    if (shot_.empty()) {
      // Tolerate a numeric shot id.
      const Json *s = m.header.get("shot");
      if (s && s->is_number()) shot_ = std::to_string(s->as_int());
    }
    if (shot_.empty()) {
      *error = "the render server opened a shot without naming it";
      return false;
    }
    shot_key_ = key;
    spec_ = spec;
    debug_log("opened shot %s: %dx%d frames %lld-%lld, %d channels, mask %s, options %s",
              shot_.c_str(), spec.width, spec.height, spec.first, spec.last, spec.channels,
              spec.mask.c_str(), spec.options.dump().c_str());
    return true;
  } catch (const IoError &e) {
    fail_io(e, error);
    return false;
  }
}

bool Session::frames_needed(long long frame, FrameRanges *ranges, std::string *error) {
  try {
    Json h = Json::object();
    h.set("op", "frames_needed");
    h.set("shot", shot_field(shot_));
    h.set("frame", frame);
    Message m = request(h, nullptr, 0, 30000);
    if (!m.header.boolean("ok")) {
      *error = reply_error(m.header);
      return false;
    }
    ranges->clear();
    const Json *r = m.header.get("ranges");
    if (!r || !r->is_array()) {
      *error = "frames_needed answer without ranges";
      return false;
    }
    for (const Json &pair : r->items()) {
      if (!pair.is_array() || pair.items().size() != 2) continue;
      ranges->emplace_back(pair.items()[0].as_int(), pair.items()[1].as_int());
    }
    return true;
  } catch (const IoError &e) {
    fail_io(e, error);
    return false;
  }
}

bool Session::put_frames(const FrameRanges &ranges, const RenderHooks &hooks,
                         std::string *error, bool *aborted) {
  const size_t floats = spec_.put_floats();
  const size_t bytes = floats * sizeof(float);
  if (use_shm_) {
    std::string err;
    if (!shm_.ensure(bytes * kPutSlots, &err)) {
      debug_log("shared memory unavailable (%s): using the socket", err.c_str());
      use_shm_ = false;
    }
  }
  if (!use_shm_) buffer_.resize(floats);

  // Puts are pipelined: up to kPutSlots frames are on their way while the next is fetched.
  std::deque<Pending> pending;
  auto wait_one = [&]() -> bool {
    Pending p = pending.front();
    pending.pop_front();
    Message m = reply_to(p.id, "put", kRequestTimeoutMs);
    if (!m.header.boolean("ok")) {
      *error = "frame " + std::to_string(p.frame) + ": " + reply_error(m.header);
      return false;
    }
    return true;
  };

  size_t slot = 0;
  const int64_t started = now_ms();
  size_t sent = 0, total = 0;
  for (const auto &range : ranges)
    if (range.second >= range.first) total += static_cast<size_t>(range.second - range.first + 1);
  const bool show = total >= kTransferProgressFrames && hooks.progress;
  if (show) transfer_shown_ = true;
  for (const auto &range : ranges) {
    for (long long f = range.first; f <= range.second; ++f) {
      if (hooks.aborted && hooks.aborted()) {
        *aborted = true;
        while (!pending.empty())
          if (!wait_one()) break;
        return false;
      }
      if (pending.size() >= kPutSlots && !wait_one()) return false;
      float *dst = use_shm_ ? reinterpret_cast<float *>(static_cast<char *>(shm_.data()) +
                                                        slot * bytes)
                            : buffer_.data();
      if (!hooks.fetch(f, dst, error)) {
        while (!pending.empty())
          if (!wait_one()) break;
        return false;
      }
      long long id = next_id();
      Json h = frame_request("put", id, f);
      if (use_shm_) {
        Json s = Json::object();
        s.set("name", shm_.name());
        s.set("offset", static_cast<long long>(slot * bytes));
        h.set("shm", s);
        conn_.send(h);
        slot = (slot + 1) % kPutSlots;
      } else {
        conn_.send(h, dst, bytes);
      }
      pending.push_back({id, f});
      ++sent;
      if (show) hooks.progress(0.5 * static_cast<double>(sent) / static_cast<double>(total),
                               "transfer");
    }
  }
  while (!pending.empty())
    if (!wait_one()) return false;
  debug_log("put %zu frame(s) of %zu bytes in %lld ms (%s)", sent, bytes,
            static_cast<long long>(now_ms() - started), use_shm_ ? "shm" : "socket");
  return true;
}

Outcome Session::render(long long frame, const RenderHooks &hooks, std::string *error) {
  transfer_shown_ = false;
  try {
    bool reopened = false;
    for (int round = 0; round < 64; ++round) {
      long long id = next_id();
      Json h = frame_request("render", id, frame);
      const size_t result_bytes = spec_.result_floats() * sizeof(float);
      if (use_shm_) {
        std::string err;
        if (!shm_.ensure(std::max(result_bytes, spec_.put_floats() * sizeof(float) * kPutSlots),
                         &err)) {
          debug_log("shared memory unavailable (%s): using the socket", err.c_str());
          use_shm_ = false;
        }
      }
      if (use_shm_) {
        Json s = Json::object();
        s.set("name", shm_.name());
        s.set("offset", 0);
        h.set("shm", s);
      }
      conn_.send(h);

      bool cancel_sent = false;
      int64_t cancel_at = 0;
      int64_t last_heard = now_ms();
      long long heartbeat_id = 0;
      int64_t heartbeat_at = 0;
      Message m;
      while (true) {
        if (!cancel_sent && hooks.aborted && hooks.aborted()) {
          Json c = Json::object();
          c.set("op", "cancel");
          c.set("id", next_id());
          c.set("shot", shot_field(shot_));
          conn_.send(c);
          cancel_sent = true;
          cancel_at = now_ms();
          debug_log("abort: cancel sent for frame %lld", frame);
        }
        int64_t now = now_ms();
        if (cancel_sent && now - cancel_at > kCancelTimeoutMs) {
          // The render did not stop: closing the connection cancels it on the server.
          disconnect();
          return Outcome::Aborted;
        }
        if (heartbeat_id && now - heartbeat_at > kHeartbeatTimeoutMs) {
          disconnect();
          *error = "the render server at " + endpoint_.text + " stopped answering";
          return Outcome::Failed;
        }
        if (!heartbeat_id && now - last_heard > kQuietMs) {
          heartbeat_id = next_id();
          heartbeat_at = now;
          Json p = Json::object();
          p.set("op", "progress");
          p.set("id", heartbeat_id);
          p.set("shot", shot_field(shot_));
          conn_.send(p);
        }
        if (!conn_.receive(m, 100)) continue;
        last_heard = now_ms();
        long long rid = m.header.integer("id", -1);
        if (m.header.str("op") == "progress") {
          if (rid == id && hooks.progress) {
            double f = m.header.number("fraction");
            hooks.progress(transfer_shown_ ? 0.5 + 0.5 * f : f, m.header.str("stage"));
          }
          continue;
        }
        if (rid == heartbeat_id) {
          heartbeat_id = 0;
          continue;
        }
        if (rid == id) break;
        // Anything else answers an earlier request (e.g. the cancel): nothing to do.
      }

      const Json &r = m.header;
      if (!r.boolean("ok")) {
        std::string code = r.str("code");
        if (code == "cancelled" || cancel_sent) return Outcome::Aborted;
        if (code == "unknown-shot" && !reopened) {
          // The server forgot the shot (restarted behind the same socket?): open it again.
          ShotSpec spec = spec_;
          shot_.clear();
          shot_key_.clear();
          if (!open_shot(spec, error)) return Outcome::Failed;
          reopened = true;
          continue;
        }
        *error = reply_error(r);
        return Outcome::Failed;
      }
      if (const Json *need = r.get("need")) {
        FrameRanges ranges;
        if (need->is_array())
          for (const Json &pair : need->items())
            if (pair.is_array() && pair.items().size() == 2)
              ranges.emplace_back(pair.items()[0].as_int(), pair.items()[1].as_int());
        if (cancel_sent) return Outcome::Aborted;
        if (ranges.empty()) {
          *error = "the render server asked for frames without naming them";
          return Outcome::Failed;
        }
        debug_log("frame %lld: server needs %zu range(s), first %lld-%lld", frame, ranges.size(),
                  ranges[0].first, ranges[0].second);
        bool aborted = false;
        if (!put_frames(ranges, hooks, error, &aborted))
          return aborted ? Outcome::Aborted : Outcome::Failed;
        continue;
      }
      long long channels = r.integer("channels", spec_.channels);
      if (channels != spec_.channels) {
        *error = "the render server answered with " + std::to_string(channels) +
                 " channels instead of " + std::to_string(spec_.channels);
        return Outcome::Failed;
      }
      const float *pixels = nullptr;
      if (r.get("shm") && r.boolean("shm")) {
        if (!use_shm_ || shm_.size() < result_bytes) {
          *error = "the render server answered in shared memory that was not offered";
          return Outcome::Failed;
        }
        pixels = static_cast<const float *>(shm_.data());
      } else {
        if (m.payload.size() != result_bytes) {
          *error = "the render server answered with " + std::to_string(m.payload.size()) +
                   " bytes instead of " + std::to_string(result_bytes);
          return Outcome::Failed;
        }
        pixels = reinterpret_cast<const float *>(m.payload.data());
      }
      if (cancel_sent) {
        // The frame was done before the cancel landed; still honour the abort.
        return Outcome::Aborted;
      }
      hooks.result(pixels);
      return Outcome::Done;
    }
    *error = "the render server kept asking for frames (64 rounds) without rendering";
    return Outcome::Failed;
  } catch (const IoError &e) {
    fail_io(e, error);
    return Outcome::Failed;
  }
}

}  // namespace flowfill
