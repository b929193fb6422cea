// Test helper: a small, strict XML 1.0 reader, to check that the JUnit
// writer's output is well-formed and to look inside it. It rejects what CI
// parsers reject: unmatched or crossed tags, unquoted or duplicate
// attributes, '<' in a value, '&' that is not one of the five named entities
// or a numeric reference to an allowed character, text after the root,
// characters XML 1.0 does not allow (most C0 controls), and bad UTF-8. It
// does not do DTDs, CDATA or namespaces (the writer emits none).
#pragma once

#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "text.h"

namespace vscsim::report::testing {

struct XmlElement {
  std::string name;
  std::map<std::string, std::string> attributes;
  std::string text;  // the element's own character data, concatenated
  std::vector<XmlElement> children;

  std::vector<const XmlElement*> all(std::string_view child_name) const {
    std::vector<const XmlElement*> out;
    for (const auto& c : children) {
      if (c.name == child_name) out.push_back(&c);
    }
    return out;
  }
  const XmlElement& only(std::string_view child_name) const {
    const auto found = all(child_name);
    if (found.size() != 1) throw std::runtime_error("expected one <" + std::string(child_name) + ">");
    return *found.front();
  }
  const std::string& attr(const std::string& key) const {
    const auto it = attributes.find(key);
    if (it == attributes.end()) throw std::runtime_error("<" + name + "> has no attribute " + key);
    return it->second;
  }
};

class MiniXmlReader {
 public:
  explicit MiniXmlReader(std::string_view doc) : doc_(doc) {}

  XmlElement read() {
    check_characters();
    if (doc_.starts_with("<?xml")) {
      const auto end = doc_.find("?>");
      if (end == std::string_view::npos) fail("unclosed XML declaration");
      at_ = end + 2;
    }
    skip_space();
    XmlElement root = element();
    skip_space();
    if (at_ != doc_.size()) fail("text after the root element");
    return root;
  }

 private:
  static bool allowed(char32_t c) {
    return c == 0x9 || c == 0xa || c == 0xd || (c >= 0x20 && c <= 0xd7ff) || (c >= 0xe000 && c <= 0xfffd) ||
           (c >= 0x10000 && c <= 0x10ffff);
  }
  void check_characters() const {
    for (std::size_t at = 0; at < doc_.size();) {
      const auto from = at;
      const auto c = detail::next_code_point(doc_, at);
      if (!c) fail_at(from, "invalid UTF-8");
      if (!allowed(*c)) fail_at(from, "a character XML 1.0 does not allow");
    }
  }
  [[noreturn]] void fail_at(std::size_t where, const std::string& why) const {
    throw std::runtime_error("XML error at byte " + std::to_string(where) + ": " + why);
  }
  [[noreturn]] void fail(const std::string& why) const { fail_at(at_, why); }

  bool eat(std::string_view s) {
    if (doc_.substr(at_).starts_with(s)) {
      at_ += s.size();
      return true;
    }
    return false;
  }
  void expect(std::string_view s) {
    if (!eat(s)) fail("expected \"" + std::string(s) + "\"");
  }
  void skip_space() {
    while (at_ < doc_.size() && std::string_view(" \t\r\n").find(doc_[at_]) != std::string_view::npos) ++at_;
  }
  std::string name() {
    const auto start = at_;
    const auto ok = [](char c, bool first) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
             (!first && ((c >= '0' && c <= '9') || c == '-' || c == '.'));
    };
    while (at_ < doc_.size() && ok(doc_[at_], at_ == start)) ++at_;
    if (at_ == start) fail("expected a name");
    return std::string(doc_.substr(start, at_ - start));
  }
  // After '&': a named entity or a numeric reference, decoded.
  std::string reference() {
    const auto end = doc_.find(';', at_);
    if (end == std::string_view::npos) fail("unterminated reference");
    const auto body = doc_.substr(at_, end - at_);
    at_ = end + 1;
    static const std::map<std::string_view, std::string_view> named = {
        {"amp", "&"}, {"lt", "<"}, {"gt", ">"}, {"quot", "\""}, {"apos", "'"}};
    if (const auto it = named.find(body); it != named.end()) return std::string(it->second);
    if (!body.starts_with("#") || body.size() < 2) fail("unknown entity &" + std::string(body) + ";");
    const bool hex = body[1] == 'x';
    const auto digits = std::string(body.substr(hex ? 2 : 1));
    if (digits.empty() || digits.find_first_not_of(hex ? "0123456789abcdefABCDEF" : "0123456789") != std::string::npos) {
      fail("bad character reference");
    }
    const auto value = static_cast<char32_t>(std::stoul(digits, nullptr, hex ? 16 : 10));
    if (!allowed(value)) fail("reference to a character XML 1.0 does not allow");
    std::string out;
    detail::append_utf8(out, value);
    return out;
  }
  XmlElement element() {
    XmlElement e;
    expect("<");
    e.name = name();
    for (;;) {
      const auto before = at_;
      skip_space();
      if (eat("/>")) return e;
      if (eat(">")) break;
      if (at_ == before) fail("expected whitespace before an attribute");
      const auto key = name();
      skip_space();
      expect("=");
      skip_space();
      const char quote = at_ < doc_.size() ? doc_[at_] : '\0';
      if (quote != '"' && quote != '\'') fail("attribute value not quoted");
      ++at_;
      std::string value;
      while (at_ < doc_.size() && doc_[at_] != quote) {
        if (doc_[at_] == '<') fail("'<' in an attribute value");
        if (doc_[at_] == '&') {
          ++at_;
          value += reference();
        } else {
          // Attribute-value normalisation: whitespace characters become spaces.
          const char c = doc_[at_++];
          value += (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
        }
      }
      expect(std::string_view(&quote, 1));
      if (!e.attributes.emplace(key, value).second) fail("duplicate attribute " + key);
    }
    for (;;) {
      if (at_ >= doc_.size()) fail("unclosed <" + e.name + ">");
      if (eat("</")) {
        if (name() != e.name) fail("end tag does not match <" + e.name + ">");
        skip_space();
        expect(">");
        return e;
      }
      if (eat("<!--")) {
        const auto end = doc_.find("-->", at_);
        if (end == std::string_view::npos) fail("unclosed comment");
        at_ = end + 3;
      } else if (doc_[at_] == '<') {
        e.children.push_back(element());
      } else if (eat("&")) {
        e.text += reference();
      } else {
        if (doc_.substr(at_).starts_with("]]>")) fail("\"]]>\" in text");
        e.text += doc_[at_++];
      }
    }
  }

  std::string_view doc_;
  std::size_t at_ = 0;
};

inline XmlElement parse_xml(std::string_view doc) { return MiniXmlReader(doc).read(); }

}  // namespace vscsim::report::testing
