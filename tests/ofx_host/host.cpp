// A small OpenFX host for the tests: loads a plug-in bundle, describes it, makes one instance
// in the Filter or General context, and renders a list of frames read from FFIM files
// (frames.h), writing the results as FFIM files. It prints one line per event so that a test
// can follow along:
//
//   PLUGIN / DESCRIBE / CONTEXT      what the plug-in declared
//   FRAMES_NEEDED frame=F Source=[a,b]...   the GetFramesNeeded answer
//   PROGRESS frame=F value=V         progress suite updates
//   MESSAGE type=T persistent=0|1 text=...   message suite calls
//   RENDER frame=F status=OK|FAILED|ABORTED code=N seconds=S
//   SUMMARY ok=N failed=N aborted=N
//
// Exit status: 0 every render succeeded, 1 some render did not, 2 usage or load errors,
// 3 the plug-in misused the host (leaked images, bad handles).

#include <dlfcn.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "frames.h"
#include "ofx/core.h"
#include "ofx/host_suites.h"
#include "ofx/image_effect.h"
#include "ofx/param.h"
#include "ofx/property.h"
#include "props.h"

namespace host {
namespace {

// ---- options -----------------------------------------------------------------------------------

struct Options {
  std::string bundle;
  std::string context = "filter";
  std::string source_dir, mask_dir, out_dir;
  std::string frames = "all";
  std::vector<std::pair<std::string, std::string>> params;
  int abort_after = -1;          // progress updates before abort() turns true (first render)
  int origin_x = 0, origin_y = 0;
  int row_pad = 16;              // bytes added to each row (rowBytes > width * pixel size)
  bool strict_frames = false;    // refuse images outside the frames-needed answer
  bool persistent_messages = true;
  bool describe_only = false;
  int sequential_status = 1;
};

void usage() {
  std::fprintf(stderr,
               "usage: ofx_host BUNDLE --source DIR [--mask DIR] --out DIR [--context "
               "filter|general]\n"
               "       [--frames all|F,F,...] [--param NAME=VALUE]... [--abort-after N]\n"
               "       [--origin X,Y] [--row-pad BYTES] [--strict-frames] [--no-persistent-messages]\n"
               "       [--describe-only]\n");
}

// ---- host objects ------------------------------------------------------------------------------

struct Effect;

struct Image : PropertySet {
  std::vector<unsigned char> buffer;
  bool output = false;
  Image() : PropertySet("image") {}
};

struct Clip {
  static constexpr unsigned kMagic = 0x0c11b000;
  unsigned magic = kMagic;
  std::string name;
  PropertySet props{"clip"};
  Effect *effect = nullptr;
  FrameFolder *folder = nullptr;  // inputs
  bool is_output = false;
};

struct Param {
  static constexpr unsigned kMagic = 0x0ba7a000;
  unsigned magic = kMagic;
  std::string name, type;
  PropertySet props{"param"};
  int ivalue = 0;
  double dvalue = 0;
  std::string svalue;
};

struct ParamSet {
  static constexpr unsigned kMagic = 0x0ba75e70;
  unsigned magic = kMagic;
  PropertySet props{"param set"};
  std::vector<std::unique_ptr<Param>> params;
  Param *find(const std::string &name) {
    for (auto &p : params)
      if (p->name == name) return p.get();
    return nullptr;
  }
};

struct Effect {
  static constexpr unsigned kMagic = 0x0eff3c70;
  unsigned magic = kMagic;
  PropertySet props{"effect"};
  ParamSet params;
  std::vector<std::unique_ptr<Clip>> clips;
  bool instance = false;
  Clip *clip(const std::string &name) {
    for (auto &c : clips)
      if (c->name == name) return c.get();
    return nullptr;
  }
};

// ---- global state of the run -------------------------------------------------------------------

Options gOpt;
PropertySet gHostProps{"host"};
OfxHost gHost;
std::set<Image *> gLiveImages;
int gMisuse = 0;
struct RenderState {
  bool active = false;
  long long frame = 0;
  int progress_updates = 0;
  bool abort_enabled = false;
  std::chrono::steady_clock::time_point abort_since;
  bool abort_fired = false;
  std::set<long long> allowed;  // frames needed (strict mode)
} gRender;
std::mutex gOutMutex;

void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void out(const char *fmt, ...) {
  std::lock_guard<std::mutex> lock(gOutMutex);
  va_list ap;
  va_start(ap, fmt);
  std::vfprintf(stdout, fmt, ap);
  va_end(ap);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

void misuse(const std::string &what) {
  ++gMisuse;
  out("MISUSE %s", what.c_str());
}

std::string quoted(const std::string &s) {
  std::string q = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') q += '\\';
    if (c == '\n') {
      q += "\\n";
      continue;
    }
    q += c;
  }
  return q + "\"";
}

const char *components_for(int channels) {
  return channels == 4   ? kOfxImageComponentRGBA
         : channels == 3 ? kOfxImageComponentRGB
                         : kOfxImageComponentAlpha;
}
const char *depth_for(int bytes) {
  return bytes == 4 ? kOfxBitDepthFloat : bytes == 2 ? kOfxBitDepthShort : kOfxBitDepthByte;
}

Effect *effect_from(OfxImageEffectHandle h) {
  auto *e = reinterpret_cast<Effect *>(h);
  if (!e || e->magic != Effect::kMagic) {
    misuse("bad image effect handle");
    return nullptr;
  }
  return e;
}
Clip *clip_from(OfxImageClipHandle h) {
  auto *c = reinterpret_cast<Clip *>(h);
  if (!c || c->magic != Clip::kMagic) {
    misuse("bad clip handle");
    return nullptr;
  }
  return c;
}
Param *param_from(OfxParamHandle h) {
  auto *p = reinterpret_cast<Param *>(h);
  if (!p || p->magic != Param::kMagic) {
    misuse("bad parameter handle");
    return nullptr;
  }
  return p;
}
ParamSet *paramset_from(OfxParamSetHandle h) {
  auto *p = reinterpret_cast<ParamSet *>(h);
  if (!p || p->magic != ParamSet::kMagic) {
    misuse("bad parameter set handle");
    return nullptr;
  }
  return p;
}

// ---- images --------------------------------------------------------------------------------------

// The output image of the current render (kept by the host after the plug-in releases it).
struct OutputBuffer {
  int width = 0, height = 0, channels = 0, bytes = 0, row_bytes = 0;
  std::vector<unsigned char> data;  // bottom-up rows
} gOutput;

Image *make_image(Clip *clip, const Frame *frame, bool output) {
  auto *img = new Image();
  img->output = output;
  int w, h, c, b, row;
  if (output) {
    w = gOutput.width;
    h = gOutput.height;
    c = gOutput.channels;
    b = gOutput.bytes;
    row = gOutput.row_bytes;
    img->set_pointer(kOfxImagePropData, {gOutput.data.data()}, true);
  } else {
    w = frame->width;
    h = frame->height;
    c = frame->channels;
    b = frame->bytes;
    row = w * c * b + gOpt.row_pad;
    img->buffer.assign(static_cast<size_t>(row) * h, 0xCD);
    // Files are top-down; OpenFX rows run bottom-up.
    for (int y = 0; y < h; ++y)
      std::memcpy(img->buffer.data() + static_cast<size_t>(y) * row,
                  frame->data.data() + static_cast<size_t>(h - 1 - y) * frame->row_size(),
                  frame->row_size());
    img->set_pointer(kOfxImagePropData, {img->buffer.data()}, true);
  }
  img->set_string(kOfxPropType, {kOfxTypeImage}, true);
  img->set_int(kOfxImagePropRowBytes, {row}, true);
  std::vector<int> bounds = {gOpt.origin_x, gOpt.origin_y, gOpt.origin_x + w, gOpt.origin_y + h};
  img->set_int(kOfxImagePropBounds, bounds, true);
  img->set_int(kOfxImagePropRegionOfDefinition, bounds, true);
  img->set_string(kOfxImageEffectPropComponents, {components_for(c)}, true);
  img->set_string(kOfxImageEffectPropPixelDepth, {depth_for(b)}, true);
  img->set_string(kOfxImageEffectPropPreMultiplication,
                  {c == 4 ? kOfxImageUnPreMultiplied : kOfxImageOpaque}, true);
  img->set_double(kOfxImagePropPixelAspectRatio, {1.0}, true);
  img->set_double(kOfxImageEffectPropRenderScale, {1.0, 1.0}, true);
  img->set_string(kOfxImagePropField, {kOfxImageFieldNone}, true);
  img->set_string(kOfxImagePropUniqueIdentifier, {clip->name + "@" + std::to_string(bounds[0])},
                  true);
  gLiveImages.insert(img);
  return img;
}

// ---- image effect suite ------------------------------------------------------------------------

OfxStatus getPropertySet(OfxImageEffectHandle h, OfxPropertySetHandle *props) {
  Effect *e = effect_from(h);
  if (!e) return kOfxStatErrBadHandle;
  *props = e->props.handle();
  return kOfxStatOK;
}
OfxStatus getParamSet(OfxImageEffectHandle h, OfxParamSetHandle *params) {
  Effect *e = effect_from(h);
  if (!e) return kOfxStatErrBadHandle;
  *params = reinterpret_cast<OfxParamSetHandle>(&e->params);
  return kOfxStatOK;
}
OfxStatus clipDefine(OfxImageEffectHandle h, const char *name, OfxPropertySetHandle *props) {
  Effect *e = effect_from(h);
  if (!e || !name) return kOfxStatErrBadHandle;
  if (e->instance) {
    misuse("clipDefine on an instance");
    return kOfxStatErrUnsupported;
  }
  if (e->clip(name)) return kOfxStatErrExists;
  auto clip = std::make_unique<Clip>();
  clip->name = name;
  clip->effect = e;
  clip->props.set_string(kOfxPropType, {kOfxTypeClip}, true);
  clip->props.set_string(kOfxPropName, {name}, true);
  clip->props.set_string(kOfxPropLabel, {name});
  clip->props.set_int(kOfxImageClipPropOptional, {0});
  clip->props.set_int(kOfxImageClipPropIsMask, {0});
  clip->props.set_int(kOfxImageEffectPropTemporalClipAccess, {0});
  clip->props.set_int(kOfxImageEffectPropSupportsTiles, {1});
  clip->props.set_string(kOfxImageEffectPropSupportedComponents, {});
  if (props) *props = clip->props.handle();
  e->clips.push_back(std::move(clip));
  return kOfxStatOK;
}
OfxStatus clipGetHandle(OfxImageEffectHandle h, const char *name, OfxImageClipHandle *clip,
                        OfxPropertySetHandle *props) {
  Effect *e = effect_from(h);
  if (!e || !name) return kOfxStatErrBadHandle;
  Clip *c = e->clip(name);
  if (!c) return kOfxStatErrUnknown;
  if (clip) *clip = reinterpret_cast<OfxImageClipHandle>(c);
  if (props) *props = c->props.handle();
  return kOfxStatOK;
}
OfxStatus clipGetPropertySet(OfxImageClipHandle h, OfxPropertySetHandle *props) {
  Clip *c = clip_from(h);
  if (!c) return kOfxStatErrBadHandle;
  *props = c->props.handle();
  return kOfxStatOK;
}
OfxStatus clipGetImage(OfxImageClipHandle h, OfxTime time, const OfxRectD *,
                       OfxPropertySetHandle *image) {
  Clip *c = clip_from(h);
  if (!c || !image) return kOfxStatErrBadHandle;
  if (!gRender.active) {
    misuse("clipGetImage outside a render");
    return kOfxStatFailed;
  }
  const long long frame = std::llround(time);
  if (c->is_output) {
    if (frame != gRender.frame) {
      misuse("output image asked at another time than the render");
      return kOfxStatFailed;
    }
    *image = make_image(c, nullptr, true)->handle();
    return kOfxStatOK;
  }
  if (!c->folder) return kOfxStatFailed;  // not connected
  if (gOpt.strict_frames && frame != gRender.frame && !gRender.allowed.count(frame)) {
    out("OUT_OF_FRAMES_NEEDED clip=%s frame=%lld render=%lld", c->name.c_str(), frame,
        gRender.frame);
    return kOfxStatFailed;
  }
  std::string error;
  const Frame *f = c->folder->has(static_cast<int>(frame)) ? c->folder->get(static_cast<int>(frame), &error)
                                                           : nullptr;
  if (!f) {
    out("NO_IMAGE clip=%s frame=%lld", c->name.c_str(), frame);
    return kOfxStatFailed;
  }
  *image = make_image(c, f, false)->handle();
  return kOfxStatOK;
}
OfxStatus clipReleaseImage(OfxPropertySetHandle h) {
  auto *img = static_cast<Image *>(PropertySet::from(h));
  if (!img || !gLiveImages.count(img)) {
    misuse("clipReleaseImage of an unknown image");
    return kOfxStatErrBadHandle;
  }
  gLiveImages.erase(img);
  delete img;
  return kOfxStatOK;
}
OfxStatus clipGetRegionOfDefinition(OfxImageClipHandle h, OfxTime, OfxRectD *bounds) {
  Clip *c = clip_from(h);
  if (!c || !bounds) return kOfxStatErrBadHandle;
  const Frame *fmt = c->folder ? &c->folder->format() : nullptr;
  if (!fmt && c->is_output) {
    *bounds = {double(gOpt.origin_x), double(gOpt.origin_y), double(gOpt.origin_x + gOutput.width),
               double(gOpt.origin_y + gOutput.height)};
    return kOfxStatOK;
  }
  if (!fmt) return kOfxStatFailed;
  *bounds = {double(gOpt.origin_x), double(gOpt.origin_y), double(gOpt.origin_x + fmt->width),
             double(gOpt.origin_y + fmt->height)};
  return kOfxStatOK;
}
int abortFn(OfxImageEffectHandle h) {
  if (!effect_from(h)) return 0;
  if (gRender.abort_enabled && gRender.progress_updates >= gOpt.abort_after) {
    if (!gRender.abort_fired) {
      gRender.abort_fired = true;
      gRender.abort_since = std::chrono::steady_clock::now();
      out("ABORT_REQUESTED frame=%lld", gRender.frame);
    }
    return 1;
  }
  return 0;
}
struct Memory {
  std::vector<unsigned char> data;
  int locks = 0;
};
OfxStatus imageMemoryAlloc(OfxImageEffectHandle, size_t bytes, OfxImageMemoryHandle *mem) {
  auto *m = new Memory();
  m->data.resize(bytes);
  *mem = reinterpret_cast<OfxImageMemoryHandle>(m);
  return kOfxStatOK;
}
OfxStatus imageMemoryFree(OfxImageMemoryHandle mem) {
  delete reinterpret_cast<Memory *>(mem);
  return kOfxStatOK;
}
OfxStatus imageMemoryLock(OfxImageMemoryHandle mem, void **data) {
  auto *m = reinterpret_cast<Memory *>(mem);
  ++m->locks;
  *data = m->data.data();
  return kOfxStatOK;
}
OfxStatus imageMemoryUnlock(OfxImageMemoryHandle mem) {
  --reinterpret_cast<Memory *>(mem)->locks;
  return kOfxStatOK;
}

const OfxImageEffectSuiteV1 kEffectSuite = {
    getPropertySet,  getParamSet,      clipDefine,      clipGetHandle,
    clipGetPropertySet, clipGetImage,  clipReleaseImage, clipGetRegionOfDefinition,
    abortFn,         imageMemoryAlloc, imageMemoryFree, imageMemoryLock,
    imageMemoryUnlock};

// ---- parameter suite ---------------------------------------------------------------------------

OfxStatus paramDefine(OfxParamSetHandle h, const char *type, const char *name,
                      OfxPropertySetHandle *props) {
  ParamSet *set = paramset_from(h);
  if (!set || !type || !name) return kOfxStatErrBadHandle;
  if (set->find(name)) return kOfxStatErrExists;
  auto p = std::make_unique<Param>();
  p->name = name;
  p->type = type;
  p->props.set_string(kOfxPropType, {kOfxTypeParameter}, true);
  p->props.set_string(kOfxPropName, {name}, true);
  p->props.set_string(kOfxParamPropType, {type}, true);
  p->props.set_string(kOfxPropLabel, {name});
  if (props) *props = p->props.handle();
  set->params.push_back(std::move(p));
  return kOfxStatOK;
}
OfxStatus paramGetHandle(OfxParamSetHandle h, const char *name, OfxParamHandle *param,
                         OfxPropertySetHandle *props) {
  ParamSet *set = paramset_from(h);
  if (!set || !name) return kOfxStatErrBadHandle;
  Param *p = set->find(name);
  if (!p) return kOfxStatErrUnknown;
  if (param) *param = reinterpret_cast<OfxParamHandle>(p);
  if (props) *props = p->props.handle();
  return kOfxStatOK;
}
OfxStatus paramSetGetPropertySet(OfxParamSetHandle h, OfxPropertySetHandle *props) {
  ParamSet *set = paramset_from(h);
  if (!set) return kOfxStatErrBadHandle;
  *props = set->props.handle();
  return kOfxStatOK;
}
OfxStatus paramGetPropertySet(OfxParamHandle h, OfxPropertySetHandle *props) {
  Param *p = param_from(h);
  if (!p) return kOfxStatErrBadHandle;
  *props = p->props.handle();
  return kOfxStatOK;
}
OfxStatus get_value(Param *p, va_list ap) {
  if (p->type == kOfxParamTypeInteger || p->type == kOfxParamTypeChoice ||
      p->type == kOfxParamTypeBoolean) {
    *va_arg(ap, int *) = p->ivalue;
  } else if (p->type == kOfxParamTypeDouble) {
    *va_arg(ap, double *) = p->dvalue;
  } else if (p->type == kOfxParamTypeString) {
    *va_arg(ap, char **) = const_cast<char *>(p->svalue.c_str());
  } else {
    return kOfxStatErrUnsupported;
  }
  return kOfxStatOK;
}
OfxStatus paramGetValue(OfxParamHandle h, ...) {
  Param *p = param_from(h);
  if (!p) return kOfxStatErrBadHandle;
  va_list ap;
  va_start(ap, h);
  OfxStatus s = get_value(p, ap);
  va_end(ap);
  return s;
}
OfxStatus paramGetValueAtTime(OfxParamHandle h, OfxTime time, ...) {
  Param *p = param_from(h);
  if (!p) return kOfxStatErrBadHandle;
  va_list ap;
  va_start(ap, time);
  OfxStatus s = get_value(p, ap);
  va_end(ap);
  return s;
}
OfxStatus paramGetDerivative(OfxParamHandle, OfxTime, ...) { return kOfxStatErrUnsupported; }
OfxStatus paramGetIntegral(OfxParamHandle, OfxTime, OfxTime, ...) {
  return kOfxStatErrUnsupported;
}
OfxStatus set_value(Param *p, va_list ap) {
  if (p->type == kOfxParamTypeInteger || p->type == kOfxParamTypeChoice ||
      p->type == kOfxParamTypeBoolean) {
    p->ivalue = va_arg(ap, int);
  } else if (p->type == kOfxParamTypeDouble) {
    p->dvalue = va_arg(ap, double);
  } else if (p->type == kOfxParamTypeString) {
    const char *s = va_arg(ap, const char *);
    p->svalue = s ? s : "";
  } else {
    return kOfxStatErrUnsupported;
  }
  return kOfxStatOK;
}
OfxStatus paramSetValue(OfxParamHandle h, ...) {
  Param *p = param_from(h);
  if (!p) return kOfxStatErrBadHandle;
  va_list ap;
  va_start(ap, h);
  OfxStatus s = set_value(p, ap);
  va_end(ap);
  return s;
}
OfxStatus paramSetValueAtTime(OfxParamHandle h, OfxTime time, ...) {
  Param *p = param_from(h);
  if (!p) return kOfxStatErrBadHandle;
  va_list ap;
  va_start(ap, time);
  OfxStatus s = set_value(p, ap);
  va_end(ap);
  return s;
}
OfxStatus paramGetNumKeys(OfxParamHandle, unsigned int *n) {
  *n = 0;
  return kOfxStatOK;
}
OfxStatus paramGetKeyTime(OfxParamHandle, unsigned int, OfxTime *) { return kOfxStatErrBadIndex; }
OfxStatus paramGetKeyIndex(OfxParamHandle, OfxTime, int, int *) { return kOfxStatFailed; }
OfxStatus paramDeleteKey(OfxParamHandle, OfxTime) { return kOfxStatErrBadIndex; }
OfxStatus paramDeleteAllKeys(OfxParamHandle) { return kOfxStatOK; }
OfxStatus paramCopy(OfxParamHandle, OfxParamHandle, OfxTime, const OfxRangeD *) {
  return kOfxStatErrUnsupported;
}
OfxStatus paramEditBegin(OfxParamSetHandle, const char *) { return kOfxStatOK; }
OfxStatus paramEditEnd(OfxParamSetHandle) { return kOfxStatOK; }

const OfxParameterSuiteV1 kParamSuite = {
    paramDefine,      paramGetHandle,  paramSetGetPropertySet, paramGetPropertySet,
    paramGetValue,    paramGetValueAtTime, paramGetDerivative, paramGetIntegral,
    paramSetValue,    paramSetValueAtTime, paramGetNumKeys,    paramGetKeyTime,
    paramGetKeyIndex, paramDeleteKey,  paramDeleteAllKeys,     paramCopy,
    paramEditBegin,   paramEditEnd};

// ---- memory, threads, messages, progress -------------------------------------------------------

OfxStatus memoryAlloc(void *, size_t bytes, void **data) {
  *data = std::malloc(bytes ? bytes : 1);
  return *data ? kOfxStatOK : kOfxStatErrMemory;
}
OfxStatus memoryFree(void *data) {
  std::free(data);
  return kOfxStatOK;
}
const OfxMemorySuiteV1 kMemorySuite = {memoryAlloc, memoryFree};

thread_local unsigned tThreadIndex = 0;
thread_local bool tSpawned = false;
OfxStatus multiThread(OfxThreadFunctionV1 func, unsigned int n, void *arg) {
  if (n == 0) n = 1;
  std::vector<std::thread> threads;
  for (unsigned i = 0; i < n; ++i)
    threads.emplace_back([=] {
      tThreadIndex = i;
      tSpawned = true;
      func(i, n, arg);
    });
  for (auto &t : threads) t.join();
  return kOfxStatOK;
}
OfxStatus multiThreadNumCPUs(unsigned int *n) {
  *n = std::max(1u, std::thread::hardware_concurrency());
  return kOfxStatOK;
}
OfxStatus multiThreadIndex(unsigned int *i) {
  *i = tThreadIndex;
  return kOfxStatOK;
}
int multiThreadIsSpawnedThread() { return tSpawned ? 1 : 0; }
OfxStatus mutexCreate(OfxMutexHandle *m, int count) {
  auto *mu = new std::recursive_mutex();
  for (int i = 0; i < count; ++i) mu->lock();
  *m = reinterpret_cast<OfxMutexHandle>(mu);
  return kOfxStatOK;
}
OfxStatus mutexDestroy(const OfxMutexHandle m) {
  delete reinterpret_cast<std::recursive_mutex *>(m);
  return kOfxStatOK;
}
OfxStatus mutexLock(const OfxMutexHandle m) {
  reinterpret_cast<std::recursive_mutex *>(m)->lock();
  return kOfxStatOK;
}
OfxStatus mutexUnLock(const OfxMutexHandle m) {
  reinterpret_cast<std::recursive_mutex *>(m)->unlock();
  return kOfxStatOK;
}
OfxStatus mutexTryLock(const OfxMutexHandle m) {
  return reinterpret_cast<std::recursive_mutex *>(m)->try_lock() ? kOfxStatOK : kOfxStatFailed;
}
const OfxMultiThreadSuiteV1 kThreadSuite = {multiThread, multiThreadNumCPUs, multiThreadIndex,
                                            multiThreadIsSpawnedThread, mutexCreate,
                                            mutexDestroy, mutexLock, mutexUnLock, mutexTryLock};

int gMessages = 0;
OfxStatus vmessage(bool persistent, const char *type, const char *format, va_list ap) {
  char buf[4096];
  std::vsnprintf(buf, sizeof buf, format ? format : "", ap);
  ++gMessages;
  out("MESSAGE type=%s persistent=%d text=%s", type ? type : "?", persistent ? 1 : 0,
      quoted(buf).c_str());
  return kOfxStatOK;
}
OfxStatus message(void *, const char *type, const char *, const char *format, ...) {
  va_list ap;
  va_start(ap, format);
  OfxStatus s = vmessage(false, type, format, ap);
  va_end(ap);
  return s;
}
OfxStatus setPersistentMessage(void *, const char *type, const char *, const char *format, ...) {
  va_list ap;
  va_start(ap, format);
  OfxStatus s = vmessage(true, type, format, ap);
  va_end(ap);
  return s;
}
OfxStatus clearPersistentMessage(void *) {
  out("MESSAGE_CLEARED");
  return kOfxStatOK;
}
const OfxMessageSuiteV1 kMessageSuite1 = {message};
const OfxMessageSuiteV2 kMessageSuite2 = {message, setPersistentMessage, clearPersistentMessage};

OfxStatus progressStart(void *, const char *label) {
  out("PROGRESS_START frame=%lld label=%s", gRender.frame, quoted(label ? label : "").c_str());
  return kOfxStatOK;
}
OfxStatus progressUpdate(void *, double value) {
  ++gRender.progress_updates;
  out("PROGRESS frame=%lld value=%.4f", gRender.frame, value);
  return kOfxStatOK;
}
OfxStatus progressEnd(void *) {
  out("PROGRESS_END frame=%lld", gRender.frame);
  return kOfxStatOK;
}
const OfxProgressSuiteV1 kProgressSuite = {progressStart, progressUpdate, progressEnd};

const void *fetchSuite(OfxPropertySetHandle h, const char *name, int version) {
  if (PropertySet::from(h) != &gHostProps) misuse("fetchSuite with a handle that is not the host");
  std::string n = name ? name : "";
  if (n == kOfxPropertySuite && version == 1) return property_suite();
  if (n == kOfxImageEffectSuite && version == 1) return &kEffectSuite;
  if (n == kOfxParameterSuite && version == 1) return &kParamSuite;
  if (n == kOfxMemorySuite && version == 1) return &kMemorySuite;
  if (n == kOfxMultiThreadSuite && version == 1) return &kThreadSuite;
  if (n == kOfxMessageSuite && version == 1) return &kMessageSuite1;
  if (n == kOfxMessageSuite && version == 2 && gOpt.persistent_messages) return &kMessageSuite2;
  if (n == kOfxProgressSuite && version == 1) return &kProgressSuite;
  return nullptr;
}

// ---- driving the plug-in -----------------------------------------------------------------------

OfxPlugin *gPlugin = nullptr;

OfxStatus call(const char *action, const void *handle, PropertySet *in, PropertySet *outArgs) {
  return gPlugin->mainEntry(action, handle, in ? in->handle() : nullptr,
                            outArgs ? outArgs->handle() : nullptr);
}

std::string join(const std::vector<std::string> &v, const char *sep = ",") {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? sep : "") + v[i];
  return s;
}

bool parse_args(int argc, char **argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string &a = args[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= args.size()) {
        std::fprintf(stderr, "ofx_host: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return args[++i];
    };
    if (a == "--context") gOpt.context = next();
    else if (a == "--source") gOpt.source_dir = next();
    else if (a == "--mask") gOpt.mask_dir = next();
    else if (a == "--out") gOpt.out_dir = next();
    else if (a == "--frames") gOpt.frames = next();
    else if (a == "--param") {
      std::string kv = next();
      size_t eq = kv.find('=');
      if (eq == std::string::npos) {
        std::fprintf(stderr, "ofx_host: --param wants NAME=VALUE\n");
        return false;
      }
      gOpt.params.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
    } else if (a == "--abort-after") gOpt.abort_after = std::atoi(next().c_str());
    else if (a == "--origin") {
      std::string v = next();
      if (std::sscanf(v.c_str(), "%d,%d", &gOpt.origin_x, &gOpt.origin_y) != 2) return false;
    } else if (a == "--row-pad") gOpt.row_pad = std::atoi(next().c_str());
    else if (a == "--strict-frames") gOpt.strict_frames = true;
    else if (a == "--no-persistent-messages") gOpt.persistent_messages = false;
    else if (a == "--describe-only") gOpt.describe_only = true;
    else if (a == "--sequential-status") gOpt.sequential_status = std::atoi(next().c_str());
    else if (!a.empty() && a[0] == '-') {
      std::fprintf(stderr, "ofx_host: unknown option %s\n", a.c_str());
      return false;
    } else if (gOpt.bundle.empty()) gOpt.bundle = a;
    else return false;
  }
  if (gOpt.row_pad < 0 || gOpt.row_pad % 4) {
    std::fprintf(stderr, "ofx_host: --row-pad must be a non-negative multiple of 4\n");
    return false;
  }
  return !gOpt.bundle.empty() && (gOpt.describe_only || !gOpt.source_dir.empty());
}

std::string binary_path(const std::string &bundle) {
  // BUNDLE is NAME.ofx.bundle; the binary is Contents/Linux-x86-64/NAME.ofx.
  std::string b = bundle;
  while (b.size() > 1 && b.back() == '/') b.pop_back();
  std::string base = b.substr(b.find_last_of('/') == std::string::npos ? 0 : b.find_last_of('/') + 1);
  const std::string suffix = ".bundle";
  if (base.size() > suffix.size() && base.compare(base.size() - suffix.size(), suffix.size(), suffix) == 0)
    base = base.substr(0, base.size() - suffix.size());
#if defined(__aarch64__)
  const char *arch = "Linux-arm-64";
#else
  const char *arch = "Linux-x86-64";
#endif
  return b + "/Contents/" + arch + "/" + base;
}

void setup_host_props() {
  gHostProps.set_string(kOfxPropType, {kOfxTypeImageEffectHost}, true);
  gHostProps.set_string(kOfxPropName, {"org.flowfill.testhost"}, true);
  gHostProps.set_string(kOfxPropLabel, {"flowfill test host"}, true);
  gHostProps.set_int(kOfxPropAPIVersion, {1, 4}, true);
  gHostProps.set_int(kOfxPropVersion, {0, 1, 0}, true);
  gHostProps.set_string(kOfxPropVersionLabel, {"0.1.0"}, true);
  gHostProps.set_int(kOfxImageEffectHostPropIsBackground, {1}, true);
  gHostProps.set_int(kOfxImageEffectPropSupportsOverlays, {0}, true);
  gHostProps.set_int(kOfxImageEffectPropSupportsMultiResolution, {0}, true);
  gHostProps.set_int(kOfxImageEffectPropSupportsTiles, {1}, true);
  gHostProps.set_int(kOfxImageEffectPropTemporalClipAccess, {1}, true);
  gHostProps.set_int(kOfxImageEffectPropSupportsMultipleClipDepths, {0}, true);
  gHostProps.set_int(kOfxImageEffectPropSupportsMultipleClipPARs, {0}, true);
  gHostProps.set_string(kOfxImageEffectPropSupportedComponents,
                        {kOfxImageComponentRGBA, kOfxImageComponentRGB, kOfxImageComponentAlpha},
                        true);
  gHostProps.set_string(kOfxImageEffectPropSupportedContexts,
                        {kOfxImageEffectContextFilter, kOfxImageEffectContextGeneral}, true);
  gHostProps.set_string(kOfxImageEffectPropSupportedPixelDepths,
                        {kOfxBitDepthFloat, kOfxBitDepthShort, kOfxBitDepthByte}, true);
  gHost.host = gHostProps.handle();
  gHost.fetchSuite = fetchSuite;
}

std::vector<std::string> strings_of(const PropertySet &p, const char *name) {
  const Property *prop = p.find(name);
  return prop && prop->type == Property::Type::String ? prop->strings : std::vector<std::string>();
}

std::vector<long long> frame_list(const std::string &spec, int first, int last) {
  std::vector<long long> frames;
  if (spec == "all") {
    for (int f = first; f <= last; ++f) frames.push_back(f);
    return frames;
  }
  size_t pos = 0;
  while (pos < spec.size()) {
    size_t comma = spec.find(',', pos);
    if (comma == std::string::npos) comma = spec.size();
    std::string item = spec.substr(pos, comma - pos);
    if (!item.empty()) frames.push_back(std::atoll(item.c_str()));
    pos = comma + 1;
  }
  return frames;
}

int run(int argc, char **argv) {
  if (!parse_args(argc, argv)) {
    usage();
    return 2;
  }
  setup_host_props();

  // Load the binary from the bundle layout.
  std::string binary = binary_path(gOpt.bundle);
  void *lib = dlopen(binary.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    std::fprintf(stderr, "ofx_host: cannot load %s: %s\n", binary.c_str(), dlerror());
    return 2;
  }
  auto get_count = reinterpret_cast<int (*)()>(dlsym(lib, "OfxGetNumberOfPlugins"));
  auto get_plugin = reinterpret_cast<OfxPlugin *(*)(int)>(dlsym(lib, "OfxGetPlugin"));
  if (!get_count || !get_plugin) {
    std::fprintf(stderr, "ofx_host: %s does not export the OpenFX entry points\n", binary.c_str());
    return 2;
  }
  int count = get_count();
  for (int i = 0; i < count && !gPlugin; ++i) {
    OfxPlugin *p = get_plugin(i);
    if (p && p->pluginApi && std::strcmp(p->pluginApi, kOfxImageEffectPluginApi) == 0 &&
        p->apiVersion == 1)
      gPlugin = p;
  }
  if (!gPlugin) {
    std::fprintf(stderr, "ofx_host: no image effect plug-in in %s\n", binary.c_str());
    return 2;
  }
  out("PLUGIN count=%d id=%s version=%u.%u api=%s/%d", count, gPlugin->pluginIdentifier,
      gPlugin->pluginVersionMajor, gPlugin->pluginVersionMinor, gPlugin->pluginApi,
      gPlugin->apiVersion);
  gPlugin->setHost(&gHost);
  OfxStatus st = call(kOfxActionLoad, nullptr, nullptr, nullptr);
  if (st != kOfxStatOK && st != kOfxStatReplyDefault) {
    std::fprintf(stderr, "ofx_host: load failed (%d)\n", st);
    return 2;
  }

  // Describe.
  Effect descriptor;
  descriptor.props.set_string(kOfxPropType, {kOfxTypeImageEffect}, true);
  descriptor.props.set_string(kOfxPluginPropFilePath, {gOpt.bundle}, true);
  st = call(kOfxActionDescribe, &descriptor, nullptr, nullptr);
  if (st != kOfxStatOK) {
    std::fprintf(stderr, "ofx_host: describe failed (%d)\n", st);
    return 2;
  }
  const PropertySet &d = descriptor.props;
  out("DESCRIBE label=%s group=%s contexts=%s depths=%s temporal=%d sequential=%d tiles=%d "
      "multires=%d safety=%s",
      quoted(d.get_string(kOfxPropLabel)).c_str(),
      quoted(d.get_string(kOfxImageEffectPluginPropGrouping)).c_str(),
      join(strings_of(d, kOfxImageEffectPropSupportedContexts)).c_str(),
      join(strings_of(d, kOfxImageEffectPropSupportedPixelDepths)).c_str(),
      d.get_int(kOfxImageEffectPropTemporalClipAccess, -1),
      d.get_int(kOfxImageEffectInstancePropSequentialRender, -1),
      d.get_int(kOfxImageEffectPropSupportsTiles, -1),
      d.get_int(kOfxImageEffectPropSupportsMultiResolution, -1),
      d.get_string(kOfxImageEffectPluginRenderThreadSafety).c_str());

  // Describe in every context both sides support.
  std::map<std::string, std::unique_ptr<Effect>> contexts;
  for (const std::string &ctx : strings_of(d, kOfxImageEffectPropSupportedContexts)) {
    if (ctx != kOfxImageEffectContextFilter && ctx != kOfxImageEffectContextGeneral) continue;
    auto e = std::make_unique<Effect>();
    e->props.copy_from(descriptor.props);
    PropertySet in("describe in context args");
    in.set_string(kOfxImageEffectPropContext, {ctx});
    st = call(kOfxImageEffectActionDescribeInContext, e.get(), &in, nullptr);
    if (st != kOfxStatOK) {
      std::fprintf(stderr, "ofx_host: describe in context %s failed (%d)\n", ctx.c_str(), st);
      return 2;
    }
    std::vector<std::string> clips, params;
    for (auto &c : e->clips) {
      std::string s = c->name + "(" + join(strings_of(c->props, kOfxImageEffectPropSupportedComponents), "|");
      if (c->props.get_int(kOfxImageClipPropOptional)) s += ",optional";
      if (c->props.get_int(kOfxImageClipPropIsMask)) s += ",mask";
      if (c->props.get_int(kOfxImageEffectPropTemporalClipAccess)) s += ",temporal";
      clips.push_back(s + ")");
    }
    for (auto &p : e->params.params) {
      std::string s = p->name + ":" + p->type.substr(std::strlen("OfxParamType"));
      if (p->type == kOfxParamTypeChoice)
        s += "(" + join(strings_of(p->props, kOfxParamPropChoiceOption), "|") + ")";
      params.push_back(s);
    }
    out("CONTEXT %s clips=%s params=%s", ctx.substr(std::strlen("OfxImageEffectContext")).c_str(),
        join(clips, ";").c_str(), join(params, ";").c_str());
    contexts[ctx] = std::move(e);
  }
  std::string want = gOpt.context == "general" ? kOfxImageEffectContextGeneral
                                               : kOfxImageEffectContextFilter;
  if (!contexts.count(want)) {
    std::fprintf(stderr, "ofx_host: the plug-in has no %s context\n", gOpt.context.c_str());
    return 2;
  }
  if (gOpt.describe_only) {
    call(kOfxActionUnload, nullptr, nullptr, nullptr);
    contexts.clear();
    dlclose(lib);
    return 0;
  }

  // Frames.
  std::string error;
  FrameFolder source, mask;
  if (!source.open(gOpt.source_dir, &error)) {
    std::fprintf(stderr, "ofx_host: %s\n", error.c_str());
    return 2;
  }
  if (!gOpt.mask_dir.empty() && !mask.open(gOpt.mask_dir, &error)) {
    std::fprintf(stderr, "ofx_host: %s\n", error.c_str());
    return 2;
  }
  if (!gOpt.out_dir.empty()) mkdir(gOpt.out_dir.c_str(), 0755);
  const Frame &fmt = source.format();
  const int first = source.first(), last = source.last();

  // Instance: clips and parameters from the context's descriptor.
  Effect &desc = *contexts[want];
  Effect inst;
  inst.instance = true;
  inst.props.copy_from(desc.props);
  inst.props.set_string(kOfxPropType, {kOfxTypeImageEffectInstance}, true);
  inst.props.set_string(kOfxImageEffectPropContext, {want}, true);
  inst.props.set_pointer(kOfxPropInstanceData, {nullptr});
  inst.props.set_double(kOfxImageEffectPropProjectSize, {double(fmt.width), double(fmt.height)}, true);
  inst.props.set_double(kOfxImageEffectPropProjectOffset, {0, 0}, true);
  inst.props.set_double(kOfxImageEffectPropProjectExtent, {double(fmt.width), double(fmt.height)}, true);
  inst.props.set_double(kOfxImageEffectPropProjectPixelAspectRatio, {1.0}, true);
  inst.props.set_double(kOfxImageEffectInstancePropEffectDuration, {double(last - first + 1)}, true);
  inst.props.set_double(kOfxImageEffectPropFrameRate, {24.0}, true);
  inst.props.set_double(kOfxImageEffectPropFrameRange, {double(first), double(last)}, true);
  inst.props.set_int(kOfxPropIsInteractive, {0}, true);
  for (auto &dc : desc.clips) {
    auto c = std::make_unique<Clip>();
    c->name = dc->name;
    c->effect = &inst;
    c->props.copy_from(dc->props);
    FrameFolder *folder = nullptr;
    if (c->name == kOfxImageEffectOutputClipName) {
      c->is_output = true;
    } else if (c->name == kOfxImageEffectSimpleSourceClipName) {
      folder = &source;
    } else if (!mask.empty()) {
      folder = &mask;
    }
    c->folder = folder;
    const Frame &cf = folder ? folder->format() : fmt;
    bool connected = c->is_output || folder;
    c->props.set_int(kOfxImageClipPropConnected, {connected ? 1 : 0}, true);
    c->props.set_string(kOfxImageEffectPropComponents,
                        {connected ? components_for(cf.channels) : kOfxImageComponentNone}, true);
    c->props.set_string(kOfxImageEffectPropPixelDepth,
                        {connected ? depth_for(cf.bytes) : kOfxBitDepthNone}, true);
    c->props.set_string(kOfxImageClipPropUnmappedComponents, {components_for(cf.channels)}, true);
    c->props.set_string(kOfxImageClipPropUnmappedPixelDepth, {depth_for(cf.bytes)}, true);
    c->props.set_string(kOfxImageEffectPropPreMultiplication,
                        {cf.channels == 4 ? kOfxImageUnPreMultiplied : kOfxImageOpaque}, true);
    c->props.set_double(kOfxImagePropPixelAspectRatio, {1.0}, true);
    c->props.set_double(kOfxImageEffectPropFrameRate, {24.0}, true);
    c->props.set_double(kOfxImageEffectPropFrameRange, {double(first), double(last)}, true);
    c->props.set_double(kOfxImageEffectPropUnmappedFrameRange, {double(first), double(last)}, true);
    c->props.set_string(kOfxImageClipPropFieldOrder, {kOfxImageFieldNone}, true);
    c->props.set_int(kOfxImageClipPropContinuousSamples, {0}, true);
    inst.clips.push_back(std::move(c));
  }
  for (auto &dp : desc.params.params) {
    auto p = std::make_unique<Param>();
    p->name = dp->name;
    p->type = dp->type;
    p->props.copy_from(dp->props);
    p->props.set_string(kOfxPropType, {kOfxTypeParameterInstance}, true);
    p->ivalue = p->props.get_int(kOfxParamPropDefault, 0);
    p->dvalue = p->props.get_double(kOfxParamPropDefault, 0);
    p->svalue = p->props.get_string(kOfxParamPropDefault, "");
    inst.params.params.push_back(std::move(p));
  }
  for (auto &kv : gOpt.params) {
    Param *p = inst.params.find(kv.first);
    if (!p) {
      std::fprintf(stderr, "ofx_host: the plug-in has no parameter %s\n", kv.first.c_str());
      return 2;
    }
    if (p->type == kOfxParamTypeChoice) {
      auto options = strings_of(p->props, kOfxParamPropChoiceOption);
      bool found = false;
      for (size_t i = 0; i < options.size(); ++i)
        if (options[i] == kv.second) {
          p->ivalue = static_cast<int>(i);
          found = true;
        }
      if (!found) p->ivalue = std::atoi(kv.second.c_str());
    } else if (p->type == kOfxParamTypeString) {
      p->svalue = kv.second;
    } else if (p->type == kOfxParamTypeDouble) {
      p->dvalue = std::atof(kv.second.c_str());
    } else {
      p->ivalue = std::atoi(kv.second.c_str());
    }
  }
  if (gOpt.context == "general" && gOpt.mask_dir.empty() && !inst.clip("Mask"))
    std::fprintf(stderr, "ofx_host: note: the General context has no Mask clip\n");

  st = call(kOfxActionCreateInstance, &inst, nullptr, nullptr);
  if (st != kOfxStatOK && st != kOfxStatReplyDefault) {
    std::fprintf(stderr, "ofx_host: create instance failed (%d)\n", st);
    return 2;
  }

  // Output format follows the Source.
  gOutput.width = fmt.width;
  gOutput.height = fmt.height;
  gOutput.channels = fmt.channels == 1 ? 4 : fmt.channels;
  gOutput.bytes = fmt.bytes;
  gOutput.row_bytes = gOutput.width * gOutput.channels * gOutput.bytes + gOpt.row_pad;

  std::vector<long long> frames = frame_list(gOpt.frames, first, last);
  long long lo = frames.empty() ? first : *std::min_element(frames.begin(), frames.end());
  long long hi = frames.empty() ? last : *std::max_element(frames.begin(), frames.end());
  PropertySet seq("sequence render args");
  seq.set_double(kOfxImageEffectPropFrameRange, {double(lo), double(hi)});
  seq.set_double(kOfxImageEffectPropFrameStep, {1.0});
  seq.set_int(kOfxPropIsInteractive, {0});
  seq.set_double(kOfxImageEffectPropRenderScale, {1.0, 1.0});
  seq.set_int(kOfxImageEffectPropSequentialRenderStatus, {gOpt.sequential_status});
  seq.set_int(kOfxImageEffectPropInteractiveRenderStatus, {0});
  call(kOfxImageEffectActionBeginSequenceRender, &inst, &seq, nullptr);

  int ok = 0, failed = 0, aborted = 0;
  for (size_t index = 0; index < frames.size(); ++index) {
    const long long frame = frames[index];
    // Frames needed.
    PropertySet fin("frames needed args"), fout("frames needed result");
    fin.set_double(kOfxPropTime, {double(frame)});
    std::vector<std::string> inputs;
    for (auto &c : inst.clips)
      if (!c->is_output) {
        inputs.push_back(c->name);
        fout.set_double(kOfxImageClipPropFrameRangePrefix + c->name, {double(frame), double(frame)});
      }
    st = call(kOfxImageEffectActionGetFramesNeeded, &inst, &fin, &fout);
    gRender.allowed.clear();
    std::string needed;
    for (const std::string &name : inputs) {
      const Property *p = fout.find(kOfxImageClipPropFrameRangePrefix + name);
      needed += " " + name + "=";
      if (!p || p->type != Property::Type::Double || p->doubles.size() % 2) {
        needed += "?";
        misuse("bad frame range answer for " + name);
        continue;
      }
      for (size_t i = 0; i + 1 < p->doubles.size(); i += 2) {
        long long a = std::llround(p->doubles[i]), b = std::llround(p->doubles[i + 1]);
        needed += (i ? "," : "") + std::string("[") + std::to_string(a) + "," + std::to_string(b) + "]";
        for (long long f = a; f <= b && f - a < 100000; ++f) gRender.allowed.insert(f);
      }
    }
    out("FRAMES_NEEDED frame=%lld status=%d%s", frame, st, needed.c_str());

    // Render.
    gOutput.data.assign(static_cast<size_t>(gOutput.row_bytes) * gOutput.height, 0);
    if (gOutput.bytes == 4) {
      const float nan = std::numeric_limits<float>::quiet_NaN();
      for (size_t i = 0; i + 4 <= gOutput.data.size(); i += 4) std::memcpy(&gOutput.data[i], &nan, 4);
    } else {
      std::fill(gOutput.data.begin(), gOutput.data.end(), 0xAB);
    }
    PropertySet rin("render args");
    rin.set_double(kOfxPropTime, {double(frame)});
    rin.set_string(kOfxImageEffectPropFieldToRender, {kOfxImageFieldNone});
    rin.set_int(kOfxImageEffectPropRenderWindow,
                {gOpt.origin_x, gOpt.origin_y, gOpt.origin_x + gOutput.width, gOpt.origin_y + gOutput.height});
    rin.set_double(kOfxImageEffectPropRenderScale, {1.0, 1.0});
    rin.set_int(kOfxImageEffectPropSequentialRenderStatus, {gOpt.sequential_status});
    rin.set_int(kOfxImageEffectPropInteractiveRenderStatus, {0});
    rin.set_int(kOfxImageEffectPropRenderQualityDraft, {0});
    gRender.active = true;
    gRender.frame = frame;
    gRender.progress_updates = 0;
    gRender.abort_enabled = gOpt.abort_after >= 0 && index == 0;
    gRender.abort_fired = false;
    auto t0 = std::chrono::steady_clock::now();
    st = call(kOfxImageEffectActionRender, &inst, &rin, nullptr);
    auto t1 = std::chrono::steady_clock::now();
    gRender.active = false;
    for (Image *img : gLiveImages) misuse("image not released after render of frame " + std::to_string(frame) + " (" + (img->output ? "output" : "input") + ")");
    for (Image *img : gLiveImages) delete img;
    gLiveImages.clear();

    const double seconds = std::chrono::duration<double>(t1 - t0).count();
    const char *status = st == kOfxStatOK ? "OK" : gRender.abort_fired ? "ABORTED" : "FAILED";
    std::string extra;
    if (gRender.abort_fired) {
      double latency = std::chrono::duration<double>(t1 - gRender.abort_since).count();
      char buf[64];
      std::snprintf(buf, sizeof buf, " abort_latency=%.3f", latency);
      extra = buf;
    }
    out("RENDER frame=%lld status=%s code=%d seconds=%.3f%s", frame, status, st, seconds, extra.c_str());
    if (st == kOfxStatOK) {
      ++ok;
      if (!gOpt.out_dir.empty()) {
        Frame result;
        result.width = gOutput.width;
        result.height = gOutput.height;
        result.channels = gOutput.channels;
        result.bytes = gOutput.bytes;
        result.data.resize(result.row_size() * result.height);
        for (int y = 0; y < result.height; ++y)
          std::memcpy(result.data.data() + static_cast<size_t>(y) * result.row_size(),
                      gOutput.data.data() + static_cast<size_t>(result.height - 1 - y) * gOutput.row_bytes,
                      result.row_size());
        // The padding at each row's end must be untouched.
        for (int y = 0; y < result.height; ++y)
          for (int k = 0; k < gOpt.row_pad; ++k) {
            unsigned char v = gOutput.data[static_cast<size_t>(y) * gOutput.row_bytes + result.row_size() + k];
            unsigned char expect = 0xAB;
            if (gOutput.bytes == 4) {
              const float nan = std::numeric_limits<float>::quiet_NaN();
              unsigned char b[4];
              std::memcpy(b, &nan, 4);
              expect = b[k % 4];
            }
            if (v != expect) {
              misuse("the plug-in wrote past the row end (rowBytes) in frame " + std::to_string(frame));
              y = result.height;
              break;
            }
          }
        if (!write_frame(gOpt.out_dir + "/" + std::to_string(frame) + ".ffim", result, &error)) {
          std::fprintf(stderr, "ofx_host: %s\n", error.c_str());
          return 2;
        }
      }
    } else if (gRender.abort_fired) {
      ++aborted;
    } else {
      ++failed;
    }
  }
  call(kOfxImageEffectActionEndSequenceRender, &inst, &seq, nullptr);
  call(kOfxActionDestroyInstance, &inst, nullptr, nullptr);
  call(kOfxActionUnload, nullptr, nullptr, nullptr);
  out("SUMMARY ok=%d failed=%d aborted=%d misuse=%d", ok, failed, aborted, gMisuse);
  contexts.clear();
  dlclose(lib);
  if (gMisuse) return 3;
  return failed || aborted ? 1 : 0;
}

}  // namespace
}  // namespace host

int main(int argc, char **argv) { return host::run(argc, argv); }
