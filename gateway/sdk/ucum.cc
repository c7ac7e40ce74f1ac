#include "ilpgw/sdk/ucum.h"

#include "ilpgw/sdk/identifiers.h"

#include <rapidjson/document.h>

#include <fstream>
#include <sstream>

namespace ilpgw::sdk::values {
namespace {

bool isDigit(char c) { return c >= '0' && c <= '9'; }

// Characters that end a symbol: the operators and the grouping marks.
bool isSeparator(char c) { return c == '.' || c == '/' || c == '(' || c == ')' || c == '{' || c == '}'; }

// Recursive descent over the UCUM grammar:
//   main      := '/' term | term
//   term      := component (('.' | '/') component)*
//   component := '(' term ')' [annotation] | annotation | symbol [annotation]
//   symbol    := factor | simpleUnit [exponent]
class Parser {
 public:
  Parser(const UcumUnits& units, std::string_view text,
         bool (*simple)(const UcumUnits&, std::string_view))
      : units_(units), text_(text), simple_(simple) {}

  bool parseMain() {
    if (peek('/')) ++pos_;
    return parseTerm(0) && pos_ == text_.size();
  }

 private:
  // Deeper nesting than any real unit has; it bounds the recursion.
  static constexpr int kMaxDepth = 16;

  bool peek(char c) const { return pos_ < text_.size() && text_[pos_] == c; }

  bool parseTerm(int depth) {
    if (!parseComponent(depth)) return false;
    while (peek('.') || peek('/')) {
      ++pos_;
      if (!parseComponent(depth)) return false;
    }
    return true;
  }

  bool parseAnnotation() {
    ++pos_;  // '{'
    while (pos_ < text_.size() && text_[pos_] != '}') {
      auto c = static_cast<unsigned char>(text_[pos_]);
      // Printable ASCII except the braces themselves; no blanks.
      if (c < 33 || c > 126 || c == '{') return false;
      ++pos_;
    }
    if (!peek('}')) return false;
    ++pos_;
    return true;
  }

  bool parseComponent(int depth) {
    if (peek('(')) {
      if (depth >= kMaxDepth) return false;
      ++pos_;
      if (!parseTerm(depth + 1) || !peek(')')) return false;
      ++pos_;
      return !peek('{') || parseAnnotation();
    }
    if (peek('{')) return parseAnnotation();
    // A symbol runs to the next separator; square brackets are opaque (atoms
    // such as B[10.nV] hold a '.').
    std::size_t start = pos_;
    int brackets = 0;
    while (pos_ < text_.size()) {
      char c = text_[pos_];
      if (c == '[') ++brackets;
      if (c == ']' && --brackets < 0) return false;
      if (brackets == 0 && isSeparator(c)) break;
      ++pos_;
    }
    if (brackets != 0) return false;
    std::string_view symbol = text_.substr(start, pos_ - start);
    if (symbol.empty() || !validSymbol(symbol)) return false;
    return !peek('{') || parseAnnotation();
  }

  bool validSymbol(std::string_view symbol) const {
    bool all_digits = true;
    for (char c : symbol) all_digits &= isDigit(c);
    if (all_digits) return true;  // an integer factor
    // A trailing exponent: digits, optionally signed. The atom before it may
    // end in '*' or '^' (10*3), never in a digit.
    std::size_t end = symbol.size();
    while (end > 0 && isDigit(symbol[end - 1])) --end;
    if (end < symbol.size() && end > 0 && (symbol[end - 1] == '+' || symbol[end - 1] == '-')) --end;
    if (end == 0) return false;
    if (end < symbol.size() && !isDigit(symbol.back())) return false;
    return simple_(units_, symbol.substr(0, end));
  }

  const UcumUnits& units_;
  std::string_view text_;
  bool (*simple_)(const UcumUnits&, std::string_view);
  std::size_t pos_ = 0;
};

bool readStringSet(const rapidjson::Value& root, const char* name, std::set<std::string, std::less<>>& out,
                   std::string& error) {
  auto it = root.FindMember(name);
  if (it == root.MemberEnd() || !it->value.IsObject()) {
    error = std::string("missing object \"") + name + "\"";
    return false;
  }
  for (const auto& member : it->value.GetObject()) {
    if (member.name.GetStringLength() == 0) {
      error = std::string("empty code in \"") + name + "\"";
      return false;
    }
    out.emplace(member.name.GetString(), member.name.GetStringLength());
  }
  return true;
}

}  // namespace

std::optional<UcumUnits> UcumUnits::parse(std::string_view json_text, std::string& error) {
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseNumbersAsStringsFlag>(json_text.data(),
                                                                                     json_text.size());
  if (doc.HasParseError() || !doc.IsObject()) {
    error = "not a JSON object";
    return std::nullopt;
  }
  UcumUnits units;
  if (!readStringSet(doc, "prefixes", units.prefixes_, error) ||
      !readStringSet(doc, "metric_atoms", units.metric_, error) ||
      !readStringSet(doc, "other_atoms", units.other_, error)) {
    return std::nullopt;
  }
  return units;
}

std::optional<UcumUnits> UcumUnits::load(const std::string& path, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "cannot read " + path;
    return std::nullopt;
  }
  std::stringstream text;
  text << in.rdbuf();
  auto units = parse(text.str(), error);
  if (!units) error = path + ": " + error;
  return units;
}

bool UcumUnits::validSimpleUnit(std::string_view text) const {
  if (metric_.contains(text) || other_.contains(text)) return true;
  // Prefixes are one or two characters (da, Ki, Mi ...).
  for (std::size_t length : {std::size_t{1}, std::size_t{2}}) {
    if (text.size() > length && prefixes_.contains(text.substr(0, length)) && metric_.contains(text.substr(length))) {
      return true;
    }
  }
  return false;
}

bool UcumUnits::isValid(std::string_view code) const {
  if (code.empty()) return false;
  Parser parser(*this, code,
                [](const UcumUnits& units, std::string_view simple) { return units.validSimpleUnit(simple); });
  return parser.parseMain();
}

std::optional<Coding> unitCoding(const Host& host, std::string_view concept_map, std::string_view unit,
                                 const UcumUnits* ucum) {
  if (unit.empty()) return std::nullopt;
  Coding coding;
  if (host.translate(concept_map, unit, coding)) return coding;
  if (ucum != nullptr && ucum->isValid(unit)) {
    return Coding{std::string(kUcumSystem), std::string(unit), std::string(unit)};
  }
  return std::nullopt;
}

}  // namespace ilpgw::sdk::values
