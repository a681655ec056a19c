// Frames on disk for the test host: one FFIM file per frame, named <frame>.ffim.
//
// FFIM: a 24-byte header of six little-endian uint32 -- the ASCII magic "FFIM", version 1,
// width, height, channels (1, 3 or 4), bytes per sample (1: uint8, 2: uint16, 4: float32) --
// then the samples, rows top to bottom, channels interleaved, little-endian.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace host {

struct Frame {
  int width = 0, height = 0, channels = 0, bytes = 0;
  std::vector<unsigned char> data;  // top-down rows, width * channels * bytes each
  size_t row_size() const { return static_cast<size_t>(width) * channels * bytes; }
};

bool read_frame(const std::string &path, Frame *frame, std::string *error);
bool write_frame(const std::string &path, const Frame &frame, std::string *error);

// A folder of <frame>.ffim files: frame numbers found there, frames read when first asked.
class FrameFolder {
 public:
  bool open(const std::string &dir, std::string *error);
  bool empty() const { return frames_.empty(); }
  int first() const { return frames_.begin()->first; }
  int last() const { return frames_.rbegin()->first; }
  bool has(int frame) const { return frames_.count(frame) != 0; }
  // The frame's data (cached), or nullptr with *error.
  const Frame *get(int frame, std::string *error);
  const Frame &format() const { return format_; }  // size, channels, bytes of the first

 private:
  std::string dir_;
  std::map<int, std::string> frames_;
  std::map<int, Frame> cache_;
  Frame format_;
};

}  // namespace host
