#include "frames.h"

#include <dirent.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace host {

namespace {

uint32_t le32(const unsigned char *p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}
void put32(unsigned char *p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}

}  // namespace

bool read_frame(const std::string &path, Frame *frame, std::string *error) {
  FILE *f = std::fopen(path.c_str(), "rb");
  if (!f) {
    *error = "cannot open " + path;
    return false;
  }
  unsigned char head[24];
  bool ok = std::fread(head, 1, sizeof head, f) == sizeof head && std::memcmp(head, "FFIM", 4) == 0 &&
            le32(head + 4) == 1;
  if (ok) {
    frame->width = static_cast<int>(le32(head + 8));
    frame->height = static_cast<int>(le32(head + 12));
    frame->channels = static_cast<int>(le32(head + 16));
    frame->bytes = static_cast<int>(le32(head + 20));
    ok = frame->width > 0 && frame->height > 0 && frame->width < 100000 &&
         frame->height < 100000 &&
         (frame->channels == 1 || frame->channels == 3 || frame->channels == 4) &&
         (frame->bytes == 1 || frame->bytes == 2 || frame->bytes == 4);
  }
  if (ok) {
    frame->data.resize(frame->row_size() * static_cast<size_t>(frame->height));
    ok = std::fread(frame->data.data(), 1, frame->data.size(), f) == frame->data.size();
  }
  std::fclose(f);
  if (!ok) *error = "not a valid FFIM file: " + path;
  return ok;
}

bool write_frame(const std::string &path, const Frame &frame, std::string *error) {
  std::string tmp = path + ".tmp";
  FILE *f = std::fopen(tmp.c_str(), "wb");
  if (!f) {
    *error = "cannot write " + path;
    return false;
  }
  unsigned char head[24];
  std::memcpy(head, "FFIM", 4);
  put32(head + 4, 1);
  put32(head + 8, static_cast<uint32_t>(frame.width));
  put32(head + 12, static_cast<uint32_t>(frame.height));
  put32(head + 16, static_cast<uint32_t>(frame.channels));
  put32(head + 20, static_cast<uint32_t>(frame.bytes));
  bool ok = std::fwrite(head, 1, sizeof head, f) == sizeof head &&
            std::fwrite(frame.data.data(), 1, frame.data.size(), f) == frame.data.size();
  ok = std::fclose(f) == 0 && ok;
  if (ok) ok = std::rename(tmp.c_str(), path.c_str()) == 0;
  if (!ok) *error = "cannot write " + path;
  return ok;
}

bool FrameFolder::open(const std::string &dir, std::string *error) {
  dir_ = dir;
  DIR *d = opendir(dir.c_str());
  if (!d) {
    *error = "cannot read the folder " + dir;
    return false;
  }
  while (struct dirent *e = readdir(d)) {
    std::string name = e->d_name;
    const std::string ext = ".ffim";
    if (name.size() <= ext.size() || name.compare(name.size() - ext.size(), ext.size(), ext) != 0)
      continue;
    std::string stem = name.substr(0, name.size() - ext.size());
    char *end = nullptr;
    long n = std::strtol(stem.c_str(), &end, 10);
    if (stem.empty() || *end != '\0') continue;
    frames_[static_cast<int>(n)] = dir + "/" + name;
  }
  closedir(d);
  if (frames_.empty()) {
    *error = "no <frame>.ffim files in " + dir;
    return false;
  }
  const Frame *f = get(first(), error);
  if (!f) return false;
  format_ = *f;
  format_.data.clear();
  return true;
}

const Frame *FrameFolder::get(int frame, std::string *error) {
  auto it = cache_.find(frame);
  if (it != cache_.end()) return &it->second;
  auto path = frames_.find(frame);
  if (path == frames_.end()) {
    *error = "no frame " + std::to_string(frame) + " in " + dir_;
    return nullptr;
  }
  Frame f;
  if (!read_frame(path->second, &f, error)) return nullptr;
  if (format_.width && (f.width != format_.width || f.height != format_.height ||
                        f.channels != format_.channels || f.bytes != format_.bytes)) {
    *error = path->second + " differs in size or format from the first frame";
    return nullptr;
  }
  return &cache_.emplace(frame, std::move(f)).first->second;
}

}  // namespace host
