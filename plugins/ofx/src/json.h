// A small JSON value with a parser and a writer: enough for the render server's headers.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace flowfill {

class Json {
 public:
  enum class Type { Null, Bool, Number, String, Array, Object };

  Json() = default;
  Json(std::nullptr_t) {}
  Json(bool b) : type_(Type::Bool), bool_(b) {}
  Json(int v) : type_(Type::Number), number_(v) {}
  Json(long v) : type_(Type::Number), number_(static_cast<double>(v)) {}
  Json(long long v) : type_(Type::Number), number_(static_cast<double>(v)) {}
  Json(double v) : type_(Type::Number), number_(v) {}
  Json(const char *s) : type_(Type::String), string_(s) {}
  Json(std::string s) : type_(Type::String), string_(std::move(s)) {}

  static Json array() { Json j; j.type_ = Type::Array; return j; }
  static Json object() { Json j; j.type_ = Type::Object; return j; }

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::Null; }
  bool is_bool() const { return type_ == Type::Bool; }
  bool is_number() const { return type_ == Type::Number; }
  bool is_string() const { return type_ == Type::String; }
  bool is_array() const { return type_ == Type::Array; }
  bool is_object() const { return type_ == Type::Object; }

  bool as_bool(bool fallback = false) const { return is_bool() ? bool_ : fallback; }
  double as_number(double fallback = 0) const { return is_number() ? number_ : fallback; }
  long long as_int(long long fallback = 0) const;
  const std::string &as_string() const;  // empty string when not a string

  // Arrays.
  const std::vector<Json> &items() const { return items_; }
  Json &push(Json v);

  // Objects: insertion order is kept; set() replaces an existing key.
  const std::vector<std::pair<std::string, Json>> &members() const { return members_; }
  const Json *get(const std::string &key) const;  // nullptr when missing or not an object
  Json &set(const std::string &key, Json v);

  // Convenience lookups on objects.
  std::string str(const std::string &key, const std::string &fallback = "") const;
  long long integer(const std::string &key, long long fallback = 0) const;
  double number(const std::string &key, double fallback = 0) const;
  bool boolean(const std::string &key, bool fallback = false) const;

  std::string dump() const;
  static Json parse(const std::string &text);  // throws JsonError

 private:
  void dump_to(std::string &out) const;

  Type type_ = Type::Null;
  bool bool_ = false;
  double number_ = 0;
  std::string string_;
  std::vector<Json> items_;
  std::vector<std::pair<std::string, Json>> members_;
};

struct JsonError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace flowfill
