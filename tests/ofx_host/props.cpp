#include "props.h"

#include <cstdio>

namespace host {

size_t Property::size() const {
  switch (type) {
    case Type::Int: return ints.size();
    case Type::Double: return doubles.size();
    case Type::String: return strings.size();
    default: return pointers.size();
  }
}

PropertySet *PropertySet::from(OfxPropertySetHandle h) {
  auto *p = reinterpret_cast<PropertySet *>(h);
  if (!p || p->magic != kMagic) return nullptr;
  return p;
}

void PropertySet::set_int(const std::string &name, std::vector<int> v, bool ro) {
  Property &p = props[name];
  p = Property();
  p.type = Property::Type::Int;
  p.ints = std::move(v);
  p.read_only = ro;
}
void PropertySet::set_double(const std::string &name, std::vector<double> v, bool ro) {
  Property &p = props[name];
  p = Property();
  p.type = Property::Type::Double;
  p.doubles = std::move(v);
  p.read_only = ro;
}
void PropertySet::set_string(const std::string &name, std::vector<std::string> v, bool ro) {
  Property &p = props[name];
  p = Property();
  p.type = Property::Type::String;
  p.strings = std::move(v);
  p.read_only = ro;
}
void PropertySet::set_pointer(const std::string &name, std::vector<void *> v, bool ro) {
  Property &p = props[name];
  p = Property();
  p.type = Property::Type::Pointer;
  p.pointers = std::move(v);
  p.read_only = ro;
}

const Property *PropertySet::find(const std::string &name) const {
  auto it = props.find(name);
  return it == props.end() ? nullptr : &it->second;
}

int PropertySet::get_int(const std::string &name, int fallback, size_t i) const {
  const Property *p = find(name);
  return p && p->type == Property::Type::Int && i < p->ints.size() ? p->ints[i] : fallback;
}
double PropertySet::get_double(const std::string &name, double fallback, size_t i) const {
  const Property *p = find(name);
  return p && p->type == Property::Type::Double && i < p->doubles.size() ? p->doubles[i]
                                                                          : fallback;
}
std::string PropertySet::get_string(const std::string &name, const std::string &fallback,
                                    size_t i) const {
  const Property *p = find(name);
  return p && p->type == Property::Type::String && i < p->strings.size() ? p->strings[i]
                                                                          : fallback;
}
void *PropertySet::get_pointer(const std::string &name, size_t i) const {
  const Property *p = find(name);
  return p && p->type == Property::Type::Pointer && i < p->pointers.size() ? p->pointers[i]
                                                                            : nullptr;
}

void PropertySet::copy_from(const PropertySet &other) {
  for (const auto &kv : other.props) props[kv.first] = kv.second;
}

namespace {

// Find-or-create for the plug-in's setters: the plug-in may set any property it likes on the
// objects it describes; the type of an existing property must match.
Property *for_set(OfxPropertySetHandle h, const char *name, Property::Type type, int index,
                  OfxStatus *status) {
  PropertySet *set = PropertySet::from(h);
  if (!set || !name) {
    *status = kOfxStatErrBadHandle;
    return nullptr;
  }
  if (index < 0) {
    *status = kOfxStatErrBadIndex;
    return nullptr;
  }
  auto it = set->props.find(name);
  if (it == set->props.end()) {
    Property p;
    p.type = type;
    it = set->props.emplace(name, p).first;
  } else if (it->second.type != type) {
    std::fprintf(stderr, "host: property %s set with the wrong type\n", name);
    *status = kOfxStatErrValue;
    return nullptr;
  }
  if (it->second.read_only) {
    std::fprintf(stderr, "host: plug-in tried to set read-only property %s\n", name);
    *status = kOfxStatErrValue;
    return nullptr;
  }
  *status = kOfxStatOK;
  return &it->second;
}

const Property *for_get(OfxPropertySetHandle h, const char *name, Property::Type type,
                        int index, OfxStatus *status) {
  PropertySet *set = PropertySet::from(h);
  if (!set || !name) {
    *status = kOfxStatErrBadHandle;
    return nullptr;
  }
  const Property *p = set->find(name);
  if (!p) {
    *status = kOfxStatErrUnknown;
    return nullptr;
  }
  if (p->type != type) {
    *status = kOfxStatErrValue;
    return nullptr;
  }
  if (index < 0 || static_cast<size_t>(index) >= p->size()) {
    *status = kOfxStatErrBadIndex;
    return nullptr;
  }
  *status = kOfxStatOK;
  return p;
}

template <typename T>
void put_at(std::vector<T> &v, int index, T value) {
  if (static_cast<size_t>(index) >= v.size()) v.resize(static_cast<size_t>(index) + 1);
  v[static_cast<size_t>(index)] = value;
}

OfxStatus setPointer(OfxPropertySetHandle h, const char *n, int i, void *v) {
  OfxStatus s;
  if (Property *p = for_set(h, n, Property::Type::Pointer, i, &s)) put_at(p->pointers, i, v);
  return s;
}
OfxStatus setString(OfxPropertySetHandle h, const char *n, int i, const char *v) {
  OfxStatus s;
  if (!v) return kOfxStatErrValue;
  if (Property *p = for_set(h, n, Property::Type::String, i, &s))
    put_at(p->strings, i, std::string(v));
  return s;
}
OfxStatus setDouble(OfxPropertySetHandle h, const char *n, int i, double v) {
  OfxStatus s;
  if (Property *p = for_set(h, n, Property::Type::Double, i, &s)) put_at(p->doubles, i, v);
  return s;
}
OfxStatus setInt(OfxPropertySetHandle h, const char *n, int i, int v) {
  OfxStatus s;
  if (Property *p = for_set(h, n, Property::Type::Int, i, &s)) put_at(p->ints, i, v);
  return s;
}
OfxStatus setPointerN(OfxPropertySetHandle h, const char *n, int count, void *const *v) {
  OfxStatus s;
  Property *p = for_set(h, n, Property::Type::Pointer, 0, &s);
  if (p) p->pointers.assign(v, v + count);
  return s;
}
OfxStatus setStringN(OfxPropertySetHandle h, const char *n, int count, const char *const *v) {
  OfxStatus s;
  Property *p = for_set(h, n, Property::Type::String, 0, &s);
  if (p) {
    p->strings.clear();
    for (int i = 0; i < count; ++i) p->strings.emplace_back(v[i] ? v[i] : "");
  }
  return s;
}
OfxStatus setDoubleN(OfxPropertySetHandle h, const char *n, int count, const double *v) {
  OfxStatus s;
  Property *p = for_set(h, n, Property::Type::Double, 0, &s);
  if (p) p->doubles.assign(v, v + count);
  return s;
}
OfxStatus setIntN(OfxPropertySetHandle h, const char *n, int count, const int *v) {
  OfxStatus s;
  Property *p = for_set(h, n, Property::Type::Int, 0, &s);
  if (p) p->ints.assign(v, v + count);
  return s;
}
OfxStatus getPointer(OfxPropertySetHandle h, const char *n, int i, void **v) {
  OfxStatus s;
  if (const Property *p = for_get(h, n, Property::Type::Pointer, i, &s))
    *v = p->pointers[static_cast<size_t>(i)];
  return s;
}
OfxStatus getString(OfxPropertySetHandle h, const char *n, int i, char **v) {
  OfxStatus s;
  if (const Property *p = for_get(h, n, Property::Type::String, i, &s))
    *v = const_cast<char *>(p->strings[static_cast<size_t>(i)].c_str());
  return s;
}
OfxStatus getDouble(OfxPropertySetHandle h, const char *n, int i, double *v) {
  OfxStatus s;
  if (const Property *p = for_get(h, n, Property::Type::Double, i, &s))
    *v = p->doubles[static_cast<size_t>(i)];
  return s;
}
OfxStatus getInt(OfxPropertySetHandle h, const char *n, int i, int *v) {
  OfxStatus s;
  if (const Property *p = for_get(h, n, Property::Type::Int, i, &s))
    *v = p->ints[static_cast<size_t>(i)];
  return s;
}
template <typename T, typename F>
OfxStatus get_n(OfxPropertySetHandle h, const char *n, int count, T *out, Property::Type type,
                F element) {
  OfxStatus s;
  const Property *p = for_get(h, n, type, 0, &s);
  if (!p) return s;
  if (count < 0 || static_cast<size_t>(count) > p->size()) return kOfxStatErrBadIndex;
  for (int i = 0; i < count; ++i) out[i] = element(*p, static_cast<size_t>(i));
  return kOfxStatOK;
}
OfxStatus getPointerN(OfxPropertySetHandle h, const char *n, int c, void **v) {
  return get_n(h, n, c, v, Property::Type::Pointer,
               [](const Property &p, size_t i) { return p.pointers[i]; });
}
OfxStatus getStringN(OfxPropertySetHandle h, const char *n, int c, char **v) {
  return get_n(h, n, c, v, Property::Type::String, [](const Property &p, size_t i) {
    return const_cast<char *>(p.strings[i].c_str());
  });
}
OfxStatus getDoubleN(OfxPropertySetHandle h, const char *n, int c, double *v) {
  return get_n(h, n, c, v, Property::Type::Double,
               [](const Property &p, size_t i) { return p.doubles[i]; });
}
OfxStatus getIntN(OfxPropertySetHandle h, const char *n, int c, int *v) {
  return get_n(h, n, c, v, Property::Type::Int,
               [](const Property &p, size_t i) { return p.ints[i]; });
}
OfxStatus reset(OfxPropertySetHandle h, const char *n) {
  PropertySet *set = PropertySet::from(h);
  if (!set) return kOfxStatErrBadHandle;
  return set->find(n) ? kOfxStatOK : kOfxStatErrUnknown;
}
OfxStatus getDimension(OfxPropertySetHandle h, const char *n, int *count) {
  PropertySet *set = PropertySet::from(h);
  if (!set) return kOfxStatErrBadHandle;
  const Property *p = set->find(n);
  if (!p) return kOfxStatErrUnknown;
  *count = static_cast<int>(p->size());
  return kOfxStatOK;
}

const OfxPropertySuiteV1 kSuite = {setPointer,  setString,  setDouble,   setInt,
                                   setPointerN, setStringN, setDoubleN,  setIntN,
                                   getPointer,  getString,  getDouble,   getInt,
                                   getPointerN, getStringN, getDoubleN,  getIntN,
                                   reset,       getDimension};

}  // namespace

const OfxPropertySuiteV1 *property_suite() { return &kSuite; }

}  // namespace host
