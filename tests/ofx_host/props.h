// The test host's property sets: named, typed, multi-dimensional values behind
// OfxPropertySetHandle, and the property suite over them.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "ofx/property.h"

namespace host {

struct Property {
  enum class Type { Int, Double, String, Pointer } type = Type::Int;
  std::vector<int> ints;
  std::vector<double> doubles;
  std::vector<std::string> strings;
  std::vector<void *> pointers;
  bool read_only = false;
  size_t size() const;
};

class PropertySet {
 public:
  static constexpr unsigned kMagic = 0x0f1f2f3f;
  unsigned magic = kMagic;
  std::string what;  // for messages: "host", "effect descriptor", "image"...
  std::map<std::string, Property> props;

  explicit PropertySet(std::string kind = "") : what(std::move(kind)) {}
  virtual ~PropertySet() { magic = 0; }

  OfxPropertySetHandle handle() { return reinterpret_cast<OfxPropertySetHandle>(this); }
  static PropertySet *from(OfxPropertySetHandle h);

  // Host-side helpers (create or replace the whole property).
  void set_int(const std::string &name, std::vector<int> v, bool read_only = false);
  void set_double(const std::string &name, std::vector<double> v, bool read_only = false);
  void set_string(const std::string &name, std::vector<std::string> v, bool read_only = false);
  void set_pointer(const std::string &name, std::vector<void *> v, bool read_only = false);
  int get_int(const std::string &name, int fallback = 0, size_t index = 0) const;
  double get_double(const std::string &name, double fallback = 0, size_t index = 0) const;
  std::string get_string(const std::string &name, const std::string &fallback = "",
                         size_t index = 0) const;
  void *get_pointer(const std::string &name, size_t index = 0) const;
  const Property *find(const std::string &name) const;
  // Copy every property of another set.
  void copy_from(const PropertySet &other);
};

const OfxPropertySuiteV1 *property_suite();

}  // namespace host
