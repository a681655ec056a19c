// flowfill Remove: an OpenFX image effect that fills a matted region of a clip with what other
// frames saw, by asking the flowfill render server (plugins/PROTOCOL.md) for each frame.

#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "json.h"
#include "ofx/core.h"
#include "ofx/host_suites.h"
#include "ofx/image_effect.h"
#include "ofx/param.h"
#include "ofx/property.h"
#include "session.h"

namespace flowfill {
namespace {

constexpr const char *kPluginId = "org.flowfill.Remove";
constexpr unsigned kVersionMajor = 0;
constexpr unsigned kVersionMinor = 1;
constexpr const char *kMaskClip = "Mask";

OfxHost *gHost = nullptr;
const OfxPropertySuiteV1 *gProp = nullptr;
const OfxImageEffectSuiteV1 *gEffect = nullptr;
const OfxParameterSuiteV1 *gParam = nullptr;
const OfxMessageSuiteV1 *gMessage1 = nullptr;
const OfxMessageSuiteV2 *gMessage2 = nullptr;
const OfxProgressSuiteV1 *gProgress = nullptr;

// ---- parameters -------------------------------------------------------------------------------

enum class Kind { Int, Choice, String, Double };

struct ParamDef {
  const char *name;       // parameter name (and script name)
  const char *label;
  Kind kind;
  const char *option;     // flowfill.Options field it sets ("" for the plug-in's own)
  int def;                // default (int, or choice index)
  int min, max;           // int range
  std::vector<const char *> choices;
  const char *hint;
};

const std::vector<ParamDef> &param_defs() {
  static const std::vector<ParamDef> defs = {
      {"fill", "Fill", Kind::Choice, "fill", 0, 0, 0, {"csa", "dip", "siren", "telea"},
       "Fill for pixels that no frame saw: csa (coherent patch attention), dip (Deep Image "
       "Prior), siren (sine network), telea (fast, smooth)."},
      {"dilate", "Dilate", Kind::Int, "dilate", -1, -1, 1000, {},
       "Pixels around the matte treated as unreliable (sources, blending boundary); the output "
       "still changes only inside the matte. -1: scaled with the image size."},
      {"grow", "Grow", Kind::Int, "grow", 0, 0, 1000, {},
       "Grow the matte itself by this many pixels (the replaced region grows)."},
      {"window", "Window", Kind::Int, "window", 80, 2, 100000, {},
       "Frames per processing window: memory follows it; the frames needed around a frame too."},
      {"overlap", "Overlap", Kind::Int, "overlap", 10, 0, 100000, {},
       "Frames shared by neighbouring windows (cross-faded)."},
      {"flow", "Flow", Kind::Choice, "flow", 0, 0, 0, {"dis", "raft", "raft-small"},
       "Optical flow: dis (OpenCV, CPU) or raft / raft-small (torch; need RAFT weights)."},
      {"light", "Light", Kind::Choice, "flow_tone", 0, 0, 0, {"display", "linear"},
       "How the images encode light, fixing the one curve every frame takes to the flow: "
       "display (Resolve's and most hosts' display-referred images) or linear (scene-linear "
       "light, as in Nuke's working space)."},
      {"raftWeights", "RAFT weights", Kind::String, "raft_weights", 0, 0, 0, {},
       "RAFT checkpoint file (empty: the server's FLOWFILL_RAFT_WEIGHTS). Never downloaded."},
      {"edges", "Edges", Kind::Choice, "edges", 0, 0, 0, {"auto", "on", "off"},
       "Cut the flow fill at motion edges completed by the edge net: auto, on or off."},
      {"device", "Device", Kind::Choice, "device", 0, 0, 0, {"auto", "cpu", "cuda"},
       "Torch device for the torch stages on the server."},
      {"matteThreshold", "Matte threshold", Kind::Double, "", 0, 0, 1, {},
       "A pixel is removed where the matte (Source alpha, or the Mask input) is above this: "
       "0 removes every pixel the matte touches, as flowfill remove does."},
      {"moreOptions", "More options", Kind::String, "", 0, 0, 0, {},
       "Other flowfill options as name=value pairs separated by spaces, e.g. "
       "'nonlocal_frames=0 max_keyframes=4' (names as in flowfill remove --help)."},
      {"server", "Server", Kind::String, "", 0, 0, 0, {},
       "Render server: a Unix socket path or tcp://127.0.0.1:PORT. Empty: $FLOWFILL_SERVER, "
       "else the default socket; a server is started there when none answers."},
  };
  return defs;
}

// ---- instance ---------------------------------------------------------------------------------

struct Instance {
  OfxImageEffectHandle handle = nullptr;
  std::string context;
  OfxImageClipHandle source = nullptr, mask = nullptr, output = nullptr;
  std::vector<OfxParamHandle> params;
  std::mutex mutex;  // one conversation with the server at a time
  Session session;
  bool message_shown = false;
  // Last frames_needed answer, for when a render holds the session.
  long long cached_frame = 0;
  FrameRanges cached_ranges;
};

Instance *instance_of(OfxImageEffectHandle effect) {
  OfxPropertySetHandle props = nullptr;
  if (gEffect->getPropertySet(effect, &props) != kOfxStatOK) return nullptr;
  void *data = nullptr;
  if (gProp->propGetPointer(props, kOfxPropInstanceData, 0, &data) != kOfxStatOK) return nullptr;
  return static_cast<Instance *>(data);
}

void post_error(Instance *inst, const std::string &text) {
  std::string line = "flowfill: " + text;
  for (char &c : line)
    if (c == '\n' || c == '\r') c = ' ';
  debug_log("error: %s", line.c_str());
  if (gMessage2 && gMessage2->setPersistentMessage) {
    gMessage2->setPersistentMessage(inst->handle, kOfxMessageError, "", "%s", line.c_str());
    inst->message_shown = true;
  } else if (gMessage2 && gMessage2->message) {
    gMessage2->message(inst->handle, kOfxMessageError, "", "%s", line.c_str());
  } else if (gMessage1 && gMessage1->message) {
    gMessage1->message(inst->handle, kOfxMessageError, "", "%s", line.c_str());
  }
}

void clear_error(Instance *inst) {
  if (inst->message_shown && gMessage2 && gMessage2->clearPersistentMessage)
    gMessage2->clearPersistentMessage(inst->handle);
  inst->message_shown = false;
}

std::string get_string_prop(OfxPropertySetHandle props, const char *name, int index = 0) {
  char *value = nullptr;
  if (gProp->propGetString(props, name, index, &value) != kOfxStatOK || !value) return "";
  return value;
}

int get_int_prop(OfxPropertySetHandle props, const char *name, int fallback, int index = 0) {
  int value = fallback;
  if (gProp->propGetInt(props, name, index, &value) != kOfxStatOK) return fallback;
  return value;
}

OfxPropertySetHandle clip_props(OfxImageClipHandle clip) {
  OfxPropertySetHandle props = nullptr;
  if (!clip || gEffect->clipGetPropertySet(clip, &props) != kOfxStatOK) return nullptr;
  return props;
}

bool clip_connected(OfxImageClipHandle clip) {
  OfxPropertySetHandle props = clip_props(clip);
  return props && get_int_prop(props, kOfxImageClipPropConnected, 0) != 0;
}

int components_count(const std::string &components) {
  if (components == kOfxImageComponentRGBA) return 4;
  if (components == kOfxImageComponentRGB) return 3;
  if (components == kOfxImageComponentAlpha) return 1;
  return 0;
}

int depth_bytes(const std::string &depth) {
  if (depth == kOfxBitDepthFloat) return 4;
  if (depth == kOfxBitDepthShort) return 2;
  if (depth == kOfxBitDepthByte) return 1;
  return 0;
}

// The option values of the parameters at `time`, as a flowfill.Options JSON object.
struct Settings {
  Json options = Json::object();
  std::string server;
  int window = 80;
  double threshold = 0.0;  // matte values above it are removed
  std::string error;       // a bad "More options" entry
};

Json parse_value(const std::string &v) {
  if (v == "true" || v == "on" || v == "yes" || v == "True") return Json(true);
  if (v == "false" || v == "off" || v == "no" || v == "False") return Json(false);
  if (v == "none" || v == "None" || v == "null") return Json();
  char *end = nullptr;
  long long i = std::strtoll(v.c_str(), &end, 10);
  if (!v.empty() && end && *end == '\0') return Json(i);
  double d = std::strtod(v.c_str(), &end);
  if (!v.empty() && end && *end == '\0') return Json(d);
  if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front())
    return Json(v.substr(1, v.size() - 2));
  return Json(v);
}

Settings read_settings(Instance *inst, OfxTime time) {
  Settings s;
  const auto &defs = param_defs();
  for (size_t i = 0; i < defs.size(); ++i) {
    const ParamDef &d = defs[i];
    OfxParamHandle p = i < inst->params.size() ? inst->params[i] : nullptr;
    if (d.kind == Kind::Double) {
      double value = 0.0;
      if (p) gParam->paramGetValueAtTime(p, time, &value);
      if (std::strcmp(d.name, "matteThreshold") == 0) s.threshold = value;
    } else if (d.kind == Kind::String) {
      char *value = nullptr;
      std::string text;
      if (p && gParam->paramGetValueAtTime(p, time, &value) == kOfxStatOK && value) text = value;
      if (std::strcmp(d.name, "server") == 0) {
        s.server = text;
      } else if (std::strcmp(d.name, "moreOptions") == 0) {
        size_t pos = 0;
        while (pos < text.size()) {
          size_t start = text.find_first_not_of(" \t\n,;", pos);
          if (start == std::string::npos) break;
          size_t end = text.find_first_of(" \t\n,;", start);
          if (end == std::string::npos) end = text.size();
          std::string token = text.substr(start, end - start);
          pos = end;
          while (!token.empty() && token[0] == '-') token.erase(0, 1);
          size_t eq = token.find('=');
          if (eq == std::string::npos || eq == 0) {
            s.error = "bad entry '" + token + "' in More options: write name=value";
            continue;
          }
          std::string name = token.substr(0, eq);
          for (char &c : name)
            if (c == '-') c = '_';
          s.options.set(name, parse_value(token.substr(eq + 1)));
        }
      } else if (!text.empty()) {
        s.options.set(d.option, text);
      }
    } else {
      int value = d.def;
      if (p) gParam->paramGetValueAtTime(p, time, &value);
      if (d.kind == Kind::Choice) {
        if (value < 0 || value >= static_cast<int>(d.choices.size())) value = d.def;
        // device "auto" is left out so that the server's own --device choice applies.
        if (!(std::strcmp(d.name, "device") == 0 && value == 0))
          s.options.set(d.option, d.choices[static_cast<size_t>(value)]);
      } else if (std::strcmp(d.name, "dilate") == 0) {
        if (value >= 0) s.options.set(d.option, value);
      } else {
        s.options.set(d.option, value);
      }
      if (std::strcmp(d.name, "window") == 0) s.window = value;
    }
  }
  // "More options" may override anything but is applied after the parameters above.
  if (const Json *w = s.options.get("window"))
    if (w->is_number()) s.window = static_cast<int>(w->as_int());
  return s;
}

// ---- images ------------------------------------------------------------------------------------

// An image fetched from a clip, released when it goes out of scope.
class Image {
 public:
  Image() = default;
  Image(const Image &) = delete;
  Image &operator=(const Image &) = delete;
  ~Image() { release(); }

  bool fetch(OfxImageClipHandle clip, OfxTime time) {
    release();
    if (!clip || gEffect->clipGetImage(clip, time, nullptr, &props_) != kOfxStatOK || !props_) {
      props_ = nullptr;
      return false;
    }
    return describe();
  }
  void release() {
    if (props_) gEffect->clipReleaseImage(props_);
    props_ = nullptr;
    data_ = nullptr;
  }
  bool valid() const { return data_ != nullptr; }
  const OfxRectI &bounds() const { return bounds_; }
  int channels() const { return channels_; }
  int bytes() const { return bytes_; }

  // Address of pixel (x, y) in the host's bottom-up coordinates, or nullptr outside.
  char *pixel(int x, int y) const {
    if (x < bounds_.x1 || x >= bounds_.x2 || y < bounds_.y1 || y >= bounds_.y2) return nullptr;
    return data_ + static_cast<ptrdiff_t>(y - bounds_.y1) * row_bytes_ +
           static_cast<ptrdiff_t>(x - bounds_.x1) * channels_ * bytes_;
  }
  float sample(const char *px, int c) const {
    switch (bytes_) {
      case 4: {
        float v;
        std::memcpy(&v, px + 4 * c, 4);
        return v;
      }
      case 2: {
        uint16_t v;
        std::memcpy(&v, px + 2 * c, 2);
        return static_cast<float>(v) / 65535.0f;
      }
      default: return static_cast<float>(static_cast<unsigned char>(px[c])) / 255.0f;
    }
  }
  void store(char *px, int c, float v) const {
    switch (bytes_) {
      case 4: std::memcpy(px + 4 * c, &v, 4); break;
      case 2: {
        float s = std::nearbyint(std::fmin(std::fmax(v, 0.0f), 1.0f) * 65535.0f);
        uint16_t q = static_cast<uint16_t>(s);
        std::memcpy(px + 2 * c, &q, 2);
        break;
      }
      default: {
        float s = std::nearbyint(std::fmin(std::fmax(v, 0.0f), 1.0f) * 255.0f);
        px[c] = static_cast<char>(static_cast<unsigned char>(s));
      }
    }
  }
  // Copy bits exactly (same depth), e.g. to pass alpha through.
  void copy_sample(char *dst, int dc, const Image &from, const char *src, int sc) const {
    std::memcpy(dst + dc * bytes_, src + sc * from.bytes_, static_cast<size_t>(bytes_));
  }

 private:
  bool describe() {
    void *data = nullptr;
    gProp->propGetPointer(props_, kOfxImagePropData, 0, &data);
    data_ = static_cast<char *>(data);
    gProp->propGetInt(props_, kOfxImagePropRowBytes, 0, &row_bytes_);
    int b[4] = {0, 0, 0, 0};
    gProp->propGetIntN(props_, kOfxImagePropBounds, 4, b);
    bounds_ = {b[0], b[1], b[2], b[3]};
    channels_ = components_count(get_string_prop(props_, kOfxImageEffectPropComponents));
    bytes_ = depth_bytes(get_string_prop(props_, kOfxImageEffectPropPixelDepth));
    if (!data_ || channels_ == 0 || bytes_ == 0 || bounds_.x2 <= bounds_.x1 ||
        bounds_.y2 <= bounds_.y1) {
      data_ = nullptr;
      return false;
    }
    return true;
  }

  OfxPropertySetHandle props_ = nullptr;
  char *data_ = nullptr;
  int row_bytes_ = 0;
  OfxRectI bounds_ = {0, 0, 0, 0};
  int channels_ = 0;
  int bytes_ = 0;
};

// ---- the shot ----------------------------------------------------------------------------------

struct Plan {
  ShotSpec spec;
  OfxRectI canvas = {0, 0, 0, 0};  // pixel rectangle sent to the server
  bool separate = false;           // the matte comes from the Mask clip
  Settings settings;
};

bool frame_range(Instance *inst, long long *first, long long *last) {
  double r[2] = {0, 0};
  OfxPropertySetHandle props = clip_props(inst->source);
  if (!props || gProp->propGetDoubleN(props, kOfxImageEffectPropFrameRange, 2, r) != kOfxStatOK) {
    OfxPropertySetHandle eprops = nullptr;
    if (gEffect->getPropertySet(inst->handle, &eprops) != kOfxStatOK ||
        gProp->propGetDoubleN(eprops, kOfxImageEffectPropFrameRange, 2, r) != kOfxStatOK)
      return false;
  }
  *first = static_cast<long long>(std::ceil(r[0] - 1e-6));
  *last = static_cast<long long>(std::floor(r[1] + 1e-6));
  return *last >= *first;
}

// The pixel rectangle of the Source at `time`: its region of definition, or the bounds of
// `fallback` when the host gives no usable region.
bool canvas_of(Instance *inst, OfxTime time, const Image *fallback, OfxRectI *canvas) {
  OfxRectD rod;
  double par = 1.0;
  if (OfxPropertySetHandle props = clip_props(inst->source))
    gProp->propGetDouble(props, kOfxImagePropPixelAspectRatio, 0, &par);
  if (!(par > 0)) par = 1.0;
  if (gEffect->clipGetRegionOfDefinition(inst->source, time, &rod) == kOfxStatOK &&
      rod.x2 > rod.x1 && rod.y2 > rod.y1 && rod.x2 - rod.x1 < 1e5 * par &&
      rod.y2 - rod.y1 < 1e5) {
    *canvas = {static_cast<int>(std::floor(rod.x1 / par + 1e-6)),
               static_cast<int>(std::floor(rod.y1 + 1e-6)),
               static_cast<int>(std::ceil(rod.x2 / par - 1e-6)),
               static_cast<int>(std::ceil(rod.y2 - 1e-6))};
    return true;
  }
  if (fallback && fallback->valid()) {
    *canvas = fallback->bounds();
    return true;
  }
  return false;
}

bool make_plan(Instance *inst, OfxTime time, const Image *source_image, Plan *plan,
               std::string *error) {
  plan->settings = read_settings(inst, time);
  if (!plan->settings.error.empty()) {
    *error = plan->settings.error;
    return false;
  }
  if (!frame_range(inst, &plan->spec.first, &plan->spec.last)) {
    *error = "the host gives no frame range for the Source clip";
    return false;
  }
  if (!canvas_of(inst, time, source_image, &plan->canvas)) {
    *error = "the host gives no region of definition for the Source clip";
    return false;
  }
  plan->spec.width = plan->canvas.x2 - plan->canvas.x1;
  plan->spec.height = plan->canvas.y2 - plan->canvas.y1;
  int channels = source_image && source_image->valid()
                     ? source_image->channels()
                     : components_count(get_string_prop(clip_props(inst->source),
                                                        kOfxImageEffectPropComponents));
  if (channels != 3 && channels != 4) {
    *error = "the Source must be RGB or RGBA";
    return false;
  }
  plan->spec.channels = channels;
  plan->separate = inst->mask && clip_connected(inst->mask);
  if (plan->separate) {
    plan->spec.mask = "separate";
  } else {
    if (channels != 4) {
      *error = inst->context == kOfxImageEffectContextGeneral
                   ? "connect a Mask input, or give the Source an alpha channel holding the matte"
                   : "the Source has no alpha channel to hold the matte (use the General "
                     "context's Mask input, or add alpha)";
      return false;
    }
    plan->spec.mask = "alpha";
  }
  plan->spec.options = plan->settings.options;
  plan->spec.threshold = plan->settings.threshold;
  return true;
}

// Fill `dst` (top-down rows, canvas size) from the Source (and Mask) at frame `frame`.
bool fetch_frame(Instance *inst, const Plan &plan, long long frame, float *dst,
                 std::string *error) {
  const int w = plan.spec.width, h = plan.spec.height, c = plan.spec.channels;
  Image src;
  if (!src.fetch(inst->source, static_cast<OfxTime>(frame))) {
    *error = "the host did not provide frame " + std::to_string(frame) + " of the Source clip";
    return false;
  }
  const size_t npix = static_cast<size_t>(w) * static_cast<size_t>(h);
  std::fill(dst, dst + npix * static_cast<size_t>(c) + (plan.separate ? npix : 0), 0.0f);
  const int sc = std::min(src.channels(), c);
  const float threshold = static_cast<float>(plan.spec.threshold);
  for (int row = 0; row < h; ++row) {
    const int y = plan.canvas.y2 - 1 - row;  // the protocol's rows run top to bottom
    float *out = dst + static_cast<size_t>(row) * static_cast<size_t>(w) * c;
    for (int col = 0; col < w; ++col) {
      const char *px = src.pixel(plan.canvas.x1 + col, y);
      if (!px) continue;
      for (int k = 0; k < sc; ++k) out[col * c + k] = src.sample(px, k);
      // The matte in alpha goes as 0 or 1 (the server removes above 0.5); the Source's own
      // alpha is put back on output.
      if (!plan.separate && c == 4) out[col * c + 3] = out[col * c + 3] > threshold ? 1.0f : 0.0f;
    }
  }
  if (plan.separate) {
    Image mask;
    if (!mask.fetch(inst->mask, static_cast<OfxTime>(frame))) {
      *error = "the host did not provide frame " + std::to_string(frame) + " of the Mask clip";
      return false;
    }
    // The matte: alpha of an RGBA mask, else its first channel.
    const int mc = mask.channels() == 4 ? 3 : 0;
    float *out = dst + npix * static_cast<size_t>(c);
    for (int row = 0; row < h; ++row) {
      const int y = plan.canvas.y2 - 1 - row;
      for (int col = 0; col < w; ++col) {
        const char *px = mask.pixel(plan.canvas.x1 + col, y);
        out[static_cast<size_t>(row) * w + col] =
            px && mask.sample(px, mc) > threshold ? 1.0f : 0.0f;
      }
    }
  }
  return true;
}

// Copy the server's frame into the output image inside the render window; alpha comes from the
// Source unchanged.
void write_result(const Plan &plan, const float *pixels, const Image &source, const Image &out,
                  const OfxRectI &window) {
  const int w = plan.spec.width, c = plan.spec.channels;
  const int oc = out.channels();
  const int colour = std::min(oc, 3);
  const bool same_depth = source.valid() && source.bytes() == out.bytes();
  int x1 = std::max({window.x1, out.bounds().x1}), x2 = std::min(window.x2, out.bounds().x2);
  int y1 = std::max(window.y1, out.bounds().y1), y2 = std::min(window.y2, out.bounds().y2);
  for (int y = y1; y < y2; ++y) {
    for (int x = x1; x < x2; ++x) {
      char *dst = out.pixel(x, y);
      if (!dst) continue;
      const int col = x - plan.canvas.x1, row = plan.canvas.y2 - 1 - y;
      const bool inside = col >= 0 && col < w && row >= 0 && row < plan.spec.height;
      const float *in = inside ? pixels + (static_cast<size_t>(row) * w + col) * c : nullptr;
      for (int k = 0; k < colour; ++k) out.store(dst, k, in ? in[k] : 0.0f);
      if (oc == 4) {
        const char *spx = source.valid() ? source.pixel(x, y) : nullptr;
        if (spx && source.channels() == 4 && same_depth)
          out.copy_sample(dst, 3, source, spx, 3);
        else if (spx && source.channels() == 4)
          out.store(dst, 3, source.sample(spx, 3));
        else
          out.store(dst, 3, in && c == 4 ? in[3] : 1.0f);
      } else if (oc == 1) {
        // An alpha-only output: keep the Source's alpha.
        const char *spx = source.valid() ? source.pixel(x, y) : nullptr;
        out.store(dst, 0, spx && source.channels() == 4 ? source.sample(spx, 3) : 1.0f);
      }
    }
  }
}

// Copy the Source through (frames outside the clip's range).
void pass_through(const Image &source, const Image &out, const OfxRectI &window) {
  for (int y = std::max(window.y1, out.bounds().y1); y < std::min(window.y2, out.bounds().y2); ++y)
    for (int x = std::max(window.x1, out.bounds().x1); x < std::min(window.x2, out.bounds().x2);
         ++x) {
      char *dst = out.pixel(x, y);
      const char *src = source.valid() ? source.pixel(x, y) : nullptr;
      for (int k = 0; k < out.channels(); ++k) {
        float v = 0.0f;
        if (src && k < source.channels()) v = source.sample(src, k);
        out.store(dst, k, v);
      }
    }
}

// ---- actions -----------------------------------------------------------------------------------

OfxStatus on_load() {
  if (!gHost || !gHost->fetchSuite) return kOfxStatErrMissingHostFeature;
  gProp = static_cast<const OfxPropertySuiteV1 *>(gHost->fetchSuite(gHost->host, kOfxPropertySuite, 1));
  gEffect =
      static_cast<const OfxImageEffectSuiteV1 *>(gHost->fetchSuite(gHost->host, kOfxImageEffectSuite, 1));
  gParam =
      static_cast<const OfxParameterSuiteV1 *>(gHost->fetchSuite(gHost->host, kOfxParameterSuite, 1));
  gMessage2 =
      static_cast<const OfxMessageSuiteV2 *>(gHost->fetchSuite(gHost->host, kOfxMessageSuite, 2));
  gMessage1 =
      static_cast<const OfxMessageSuiteV1 *>(gHost->fetchSuite(gHost->host, kOfxMessageSuite, 1));
  gProgress =
      static_cast<const OfxProgressSuiteV1 *>(gHost->fetchSuite(gHost->host, kOfxProgressSuite, 1));
  if (!gProp || !gEffect || !gParam) return kOfxStatErrMissingHostFeature;
  return kOfxStatOK;
}

OfxStatus on_describe(OfxImageEffectHandle effect) {
  OfxPropertySetHandle p = nullptr;
  if (gEffect->getPropertySet(effect, &p) != kOfxStatOK) return kOfxStatErrBadHandle;
  gProp->propSetString(p, kOfxPropLabel, 0, "flowfill Remove");
  gProp->propSetString(p, kOfxPropShortLabel, 0, "flowfill Remove");
  gProp->propSetString(p, kOfxPropLongLabel, 0, "flowfill Remove (flow-guided video completion)");
  gProp->propSetString(p, kOfxImageEffectPluginPropGrouping, 0, "flowfill");
  gProp->propSetString(p, kOfxPropPluginDescription, 0,
                       "Removes what the matte covers (Source alpha, or the Mask input) by "
                       "filling it with what the camera saw in other frames, carried along "
                       "optical flow. Frames are filled by the flowfill render server.");
  gProp->propSetString(p, kOfxImageEffectPropSupportedContexts, 0, kOfxImageEffectContextFilter);
  gProp->propSetString(p, kOfxImageEffectPropSupportedContexts, 1, kOfxImageEffectContextGeneral);
  gProp->propSetString(p, kOfxImageEffectPropSupportedPixelDepths, 0, kOfxBitDepthFloat);
  gProp->propSetString(p, kOfxImageEffectPropSupportedPixelDepths, 1, kOfxBitDepthShort);
  gProp->propSetString(p, kOfxImageEffectPropSupportedPixelDepths, 2, kOfxBitDepthByte);
  gProp->propSetInt(p, kOfxImageEffectPluginPropSingleInstance, 0, 0);
  gProp->propSetString(p, kOfxImageEffectPluginRenderThreadSafety, 0,
                       kOfxImageEffectRenderInstanceSafe);
  gProp->propSetInt(p, kOfxImageEffectPluginPropHostFrameThreading, 0, 0);
  gProp->propSetInt(p, kOfxImageEffectPropSupportsMultiResolution, 0, 0);
  gProp->propSetInt(p, kOfxImageEffectPropSupportsTiles, 0, 0);
  gProp->propSetInt(p, kOfxImageEffectPropTemporalClipAccess, 0, 1);
  gProp->propSetInt(p, kOfxImageEffectPropSupportsMultipleClipDepths, 0, 0);
  gProp->propSetInt(p, kOfxImageEffectPropSupportsMultipleClipPARs, 0, 0);
  gProp->propSetInt(p, kOfxImageEffectInstancePropSequentialRender, 0, 2);
  return kOfxStatOK;
}

void define_param(OfxParamSetHandle set, const ParamDef &d) {
  OfxPropertySetHandle p = nullptr;
  const char *type = d.kind == Kind::Int      ? kOfxParamTypeInteger
                     : d.kind == Kind::Choice ? kOfxParamTypeChoice
                     : d.kind == Kind::Double ? kOfxParamTypeDouble
                                              : kOfxParamTypeString;
  if (gParam->paramDefine(set, type, d.name, &p) != kOfxStatOK || !p) return;
  gProp->propSetString(p, kOfxPropLabel, 0, d.label);
  gProp->propSetString(p, kOfxParamPropScriptName, 0, d.name);
  gProp->propSetString(p, kOfxParamPropHint, 0, d.hint);
  gProp->propSetInt(p, kOfxParamPropAnimates, 0, 0);
  if (d.kind == Kind::Int) {
    gProp->propSetInt(p, kOfxParamPropDefault, 0, d.def);
    gProp->propSetInt(p, kOfxParamPropMin, 0, d.min);
    gProp->propSetInt(p, kOfxParamPropMax, 0, d.max);
    gProp->propSetInt(p, kOfxParamPropDisplayMin, 0, d.min);
    gProp->propSetInt(p, kOfxParamPropDisplayMax, 0, std::min(d.max, 200));
  } else if (d.kind == Kind::Double) {
    gProp->propSetDouble(p, kOfxParamPropDefault, 0, d.def);
    gProp->propSetDouble(p, kOfxParamPropMin, 0, d.min);
    gProp->propSetDouble(p, kOfxParamPropMax, 0, d.max);
    gProp->propSetDouble(p, kOfxParamPropDisplayMin, 0, d.min);
    gProp->propSetDouble(p, kOfxParamPropDisplayMax, 0, d.max);
  } else if (d.kind == Kind::Choice) {
    for (size_t i = 0; i < d.choices.size(); ++i)
      gProp->propSetString(p, kOfxParamPropChoiceOption, static_cast<int>(i), d.choices[i]);
    gProp->propSetInt(p, kOfxParamPropDefault, 0, d.def);
  } else {
    gProp->propSetString(p, kOfxParamPropDefault, 0, "");
    bool path = std::strcmp(d.name, "raftWeights") == 0;
    gProp->propSetString(p, kOfxParamPropStringMode, 0,
                         path ? kOfxParamStringIsFilePath : kOfxParamStringIsSingleLine);
    if (path) gProp->propSetInt(p, kOfxParamPropStringFilePathExists, 0, 1);
  }
}

OfxStatus on_describe_in_context(OfxImageEffectHandle effect, OfxPropertySetHandle in) {
  std::string context = get_string_prop(in, kOfxImageEffectPropContext);
  if (context != kOfxImageEffectContextFilter && context != kOfxImageEffectContextGeneral)
    return kOfxStatErrUnsupported;
  OfxPropertySetHandle c = nullptr;
  gEffect->clipDefine(effect, kOfxImageEffectSimpleSourceClipName, &c);
  if (!c) return kOfxStatErrMissingHostFeature;
  gProp->propSetString(c, kOfxImageEffectPropSupportedComponents, 0, kOfxImageComponentRGBA);
  gProp->propSetString(c, kOfxImageEffectPropSupportedComponents, 1, kOfxImageComponentRGB);
  gProp->propSetInt(c, kOfxImageEffectPropTemporalClipAccess, 0, 1);
  gProp->propSetInt(c, kOfxImageEffectPropSupportsTiles, 0, 0);
  gProp->propSetInt(c, kOfxImageClipPropOptional, 0, 0);
  if (context == kOfxImageEffectContextGeneral) {
    c = nullptr;
    gEffect->clipDefine(effect, kMaskClip, &c);
    if (c) {
      gProp->propSetString(c, kOfxImageEffectPropSupportedComponents, 0, kOfxImageComponentAlpha);
      gProp->propSetString(c, kOfxImageEffectPropSupportedComponents, 1, kOfxImageComponentRGBA);
      gProp->propSetString(c, kOfxImageEffectPropSupportedComponents, 2, kOfxImageComponentRGB);
      gProp->propSetInt(c, kOfxImageEffectPropTemporalClipAccess, 0, 1);
      gProp->propSetInt(c, kOfxImageEffectPropSupportsTiles, 0, 0);
      gProp->propSetInt(c, kOfxImageClipPropOptional, 0, 1);
      gProp->propSetInt(c, kOfxImageClipPropIsMask, 0, 1);
    }
  }
  c = nullptr;
  gEffect->clipDefine(effect, kOfxImageEffectOutputClipName, &c);
  if (c) {
    gProp->propSetString(c, kOfxImageEffectPropSupportedComponents, 0, kOfxImageComponentRGBA);
    gProp->propSetString(c, kOfxImageEffectPropSupportedComponents, 1, kOfxImageComponentRGB);
    gProp->propSetInt(c, kOfxImageEffectPropSupportsTiles, 0, 0);
  }
  OfxParamSetHandle params = nullptr;
  if (gEffect->getParamSet(effect, &params) != kOfxStatOK) return kOfxStatErrMissingHostFeature;
  for (const ParamDef &d : param_defs()) define_param(params, d);
  return kOfxStatOK;
}

OfxStatus on_create_instance(OfxImageEffectHandle effect) {
  auto inst = std::make_unique<Instance>();
  inst->handle = effect;
  OfxPropertySetHandle props = nullptr;
  if (gEffect->getPropertySet(effect, &props) != kOfxStatOK) return kOfxStatErrBadHandle;
  inst->context = get_string_prop(props, kOfxImageEffectPropContext);
  gEffect->clipGetHandle(effect, kOfxImageEffectSimpleSourceClipName, &inst->source, nullptr);
  gEffect->clipGetHandle(effect, kOfxImageEffectOutputClipName, &inst->output, nullptr);
  if (inst->context == kOfxImageEffectContextGeneral &&
      gEffect->clipGetHandle(effect, kMaskClip, &inst->mask, nullptr) != kOfxStatOK)
    inst->mask = nullptr;
  if (!inst->source || !inst->output) return kOfxStatFailed;
  OfxParamSetHandle params = nullptr;
  gEffect->getParamSet(effect, &params);
  for (const ParamDef &d : param_defs()) {
    OfxParamHandle h = nullptr;
    if (!params || gParam->paramGetHandle(params, d.name, &h, nullptr) != kOfxStatOK) h = nullptr;
    inst->params.push_back(h);
  }
  gProp->propSetPointer(props, kOfxPropInstanceData, 0, inst.release());
  return kOfxStatOK;
}

OfxStatus on_destroy_instance(OfxImageEffectHandle effect) {
  Instance *inst = instance_of(effect);
  if (!inst) return kOfxStatOK;
  {
    std::lock_guard<std::mutex> lock(inst->mutex);
    inst->session.close_shot();
    inst->session.disconnect();
  }
  OfxPropertySetHandle props = nullptr;
  if (gEffect->getPropertySet(effect, &props) == kOfxStatOK)
    gProp->propSetPointer(props, kOfxPropInstanceData, 0, nullptr);
  delete inst;
  return kOfxStatOK;
}

OfxStatus on_purge_caches(OfxImageEffectHandle effect) {
  Instance *inst = instance_of(effect);
  if (!inst) return kOfxStatOK;
  std::unique_lock<std::mutex> lock(inst->mutex, std::try_to_lock);
  if (lock.owns_lock()) inst->session.close_shot();
  return kOfxStatOK;
}

void set_ranges(OfxPropertySetHandle out, const char *clip, const FrameRanges &ranges) {
  std::vector<double> values;
  for (const auto &r : ranges) {
    values.push_back(static_cast<double>(r.first));
    values.push_back(static_cast<double>(r.second));
  }
  std::string name = std::string(kOfxImageClipPropFrameRangePrefix) + clip;
  gProp->propSetDoubleN(out, name.c_str(), static_cast<int>(values.size()), values.data());
}

OfxStatus on_get_frames_needed(OfxImageEffectHandle effect, OfxPropertySetHandle in,
                               OfxPropertySetHandle out) {
  Instance *inst = instance_of(effect);
  if (!inst) return kOfxStatErrBadHandle;
  double t = 0;
  gProp->propGetDouble(in, kOfxPropTime, 0, &t);
  const long long frame = std::llround(t);
  FrameRanges ranges;
  Plan plan;
  std::string error;
  bool planned = make_plan(inst, t, nullptr, &plan, &error);
  {
    std::unique_lock<std::mutex> lock(inst->mutex, std::try_to_lock);
    if (!lock.owns_lock()) {
      // A render holds the connection: answer from the last reply when it was for this frame.
      if (inst->cached_frame == frame && !inst->cached_ranges.empty())
        ranges = inst->cached_ranges;
    } else if (planned && frame >= plan.spec.first && frame <= plan.spec.last) {
      std::string ignored;
      if (inst->session.connect(plan.settings.server, true, [] { return true; }, &error) &&
          inst->session.open_shot(plan.spec, &error) &&
          inst->session.frames_needed(frame, &ranges, &error)) {
        inst->cached_frame = frame;
        inst->cached_ranges = ranges;
      } else {
        ranges.clear();
        debug_log("frames needed for %lld: falling back (%s)", frame, error.c_str());
      }
    }
  }
  if (ranges.empty()) {
    int radius = planned ? std::max(plan.settings.window, 1) : 80;
    long long lo = frame - radius, hi = frame + radius;
    long long first = 0, last = 0;
    if (frame_range(inst, &first, &last)) {
      lo = std::max(lo, first);
      hi = std::min(hi, last);
    }
    if (hi < lo) lo = hi = frame;
    ranges.emplace_back(lo, hi);
  }
  set_ranges(out, kOfxImageEffectSimpleSourceClipName, ranges);
  if (inst->mask) set_ranges(out, kMaskClip, ranges);
  return kOfxStatOK;
}

// Progress bar for the duration of one render.
class ProgressBar {
 public:
  ProgressBar(Instance *inst, long long frame) : inst_(inst) {
    if (gProgress && gProgress->progressStart) {
      std::string label = "flowfill: frame " + std::to_string(frame);
      started_ = gProgress->progressStart(inst->handle, label.c_str()) == kOfxStatOK;
    }
  }
  ~ProgressBar() {
    if (started_ && gProgress->progressEnd) gProgress->progressEnd(inst_->handle);
  }
  void update(double fraction) {
    if (!started_ || !gProgress->progressUpdate) return;
    // Never backwards (the server may ask for frames again after it started).
    fraction = std::fmin(std::fmax(fraction, last_), 1.0);
    last_ = fraction;
    if (gProgress->progressUpdate(inst_->handle, fraction) == kOfxStatReplyNo) cancelled_ = true;
  }
  bool cancelled() const { return cancelled_; }

 private:
  Instance *inst_;
  bool started_ = false;
  bool cancelled_ = false;
  double last_ = 0.0;
};

OfxStatus on_render(OfxImageEffectHandle effect, OfxPropertySetHandle in) {
  Instance *inst = instance_of(effect);
  if (!inst) return kOfxStatErrBadHandle;
  double t = 0;
  gProp->propGetDouble(in, kOfxPropTime, 0, &t);
  int w[4] = {0, 0, 0, 0};
  gProp->propGetIntN(in, kOfxImageEffectPropRenderWindow, 4, w);
  const OfxRectI window = {w[0], w[1], w[2], w[3]};
  const long long frame = std::llround(t);

  std::lock_guard<std::mutex> lock(inst->mutex);
  Image out;
  if (!out.fetch(inst->output, t)) {
    post_error(inst, "the host gave no output image for frame " + std::to_string(frame));
    return kOfxStatFailed;
  }
  Image source;
  if (!source.fetch(inst->source, t)) {
    post_error(inst, "the host did not provide frame " + std::to_string(frame) +
                         " of the Source clip");
    return kOfxStatFailed;
  }
  Plan plan;
  std::string error;
  if (!make_plan(inst, t, &source, &plan, &error)) {
    post_error(inst, error);
    return kOfxStatFailed;
  }
  if (frame < plan.spec.first || frame > plan.spec.last) {
    pass_through(source, out, window);
    return kOfxStatOK;
  }

  ProgressBar progress(inst, frame);
  auto aborted = [&]() {
    return progress.cancelled() || (gEffect->abort && gEffect->abort(effect) != 0);
  };
  // One retry covers a connection that died between renders (a restarted server).
  Outcome outcome = Outcome::Failed;
  for (int attempt = 0; attempt < 2; ++attempt) {
    error.clear();
    if (!inst->session.connect(plan.settings.server, true, [&] { return !aborted(); }, &error)) {
      if (aborted()) return kOfxStatFailed;
      post_error(inst, error);
      return kOfxStatFailed;
    }
    bool was_open = inst->session.has_shot();
    if (!inst->session.open_shot(plan.spec, &error)) {
      if (!inst->session.connected() && attempt == 0 && was_open) continue;
      post_error(inst, error);
      return kOfxStatFailed;
    }
    RenderHooks hooks;
    hooks.aborted = aborted;
    hooks.progress = [&](double fraction, const std::string &) { progress.update(fraction); };
    hooks.fetch = [&](long long f, float *dst, std::string *err) {
      return fetch_frame(inst, plan, f, dst, err);
    };
    hooks.result = [&](const float *pixels) { write_result(plan, pixels, source, out, window); };
    outcome = inst->session.render(frame, hooks, &error);
    break;
  }
  switch (outcome) {
    case Outcome::Done:
      clear_error(inst);
      return kOfxStatOK;
    case Outcome::Aborted:
      debug_log("frame %lld aborted", frame);
      return kOfxStatFailed;
    case Outcome::Failed:
    default:
      post_error(inst, error.empty() ? "the render failed" : error);
      return kOfxStatFailed;
  }
}

OfxStatus main_entry(const char *action, const void *handle, OfxPropertySetHandle in,
                     OfxPropertySetHandle out) {
  try {
    auto effect = static_cast<OfxImageEffectHandle>(const_cast<void *>(handle));
    if (std::strcmp(action, kOfxActionLoad) == 0) return on_load();
    if (!gProp || !gEffect || !gParam) return kOfxStatErrMissingHostFeature;
    if (std::strcmp(action, kOfxActionDescribe) == 0) return on_describe(effect);
    if (std::strcmp(action, kOfxImageEffectActionDescribeInContext) == 0)
      return on_describe_in_context(effect, in);
    if (std::strcmp(action, kOfxActionCreateInstance) == 0) return on_create_instance(effect);
    if (std::strcmp(action, kOfxActionDestroyInstance) == 0) return on_destroy_instance(effect);
    if (std::strcmp(action, kOfxImageEffectActionGetFramesNeeded) == 0)
      return on_get_frames_needed(effect, in, out);
    if (std::strcmp(action, kOfxImageEffectActionRender) == 0) return on_render(effect, in);
    if (std::strcmp(action, kOfxActionPurgeCaches) == 0) return on_purge_caches(effect);
    if (std::strcmp(action, kOfxImageEffectActionBeginSequenceRender) == 0 ||
        std::strcmp(action, kOfxImageEffectActionEndSequenceRender) == 0 ||
        std::strcmp(action, kOfxActionUnload) == 0)
      return kOfxStatOK;
    return kOfxStatReplyDefault;
  } catch (const std::bad_alloc &) {
    return kOfxStatErrMemory;
  } catch (...) {
    return kOfxStatFailed;
  }
}

void set_host(OfxHost *host) { gHost = host; }

OfxPlugin gPlugin = {kOfxImageEffectPluginApi, kOfxImageEffectPluginApiVersion, kPluginId,
                     kVersionMajor, kVersionMinor, set_host, main_entry};

}  // namespace
}  // namespace flowfill

extern "C" {
OfxExport int OfxGetNumberOfPlugins(void) { return 1; }
OfxExport OfxPlugin *OfxGetPlugin(int nth) { return nth == 0 ? &flowfill::gPlugin : nullptr; }
}
