#include "report/criteria.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>

namespace ilpgw::report {

const std::vector<std::pair<std::string_view, std::string_view>>& criteriaSystemAliases() {
  static const std::vector<std::pair<std::string_view, std::string_view>> kAliases = {
      {"loinc", "http://loinc.org"},
      {"sct", "http://snomed.info/sct"},
      {"icd10", "http://hl7.org/fhir/sid/icd-10"},
      {"cvx", "http://hl7.org/fhir/sid/cvx"},
      {"kfa", "http://sys-ids.kemkes.go.id/kfa"},
      {"layanan-posyandu", "https://ilp-gateway.id/fhir/CodeSystem/layanan-posyandu"},
      {"skrining", "https://ilp-gateway.id/fhir/CodeSystem/skrining"},
      {"poli", "https://ilp-gateway.id/fhir/CodeSystem/poli"},
  };
  return kAliases;
}

enum class Cmp { kEq, kNe, kLt, kLe, kGt, kGe };
enum class Window { kInPeriod, kBeforePeriod, kThroughPeriod };
enum class Field { kCode, kKlaster, kStage, kInterpretation, kValue, kStatus };

struct CodeTest {
  std::optional<std::string> system;  // nullopt: any system
  std::string code;
  bool prefix = false;  // written with a trailing *
};

struct Filter {
  Field field = Field::kCode;
  Cmp cmp = Cmp::kEq;  // kEq / kNe over `codes` or `words`; numeric comparisons over `number`
  std::vector<CodeTest> codes;
  std::vector<std::string> words;
  double number = 0;
  std::optional<bool> flag;  // value = true | false
};

struct Selector {
  std::string type;
  std::vector<Filter> filters;
};

struct CriteriaNode {
  enum class Kind { kAnd, kOr, kNot, kExists, kCount, kRises, kAge, kAgeMonths, kGender } kind = Kind::kAnd;
  std::vector<std::shared_ptr<const CriteriaNode>> children;
  std::vector<Selector> source;
  Window window = Window::kInPeriod;
  Cmp cmp = Cmp::kEq;
  double number = 0;
  std::string word;
};

namespace {

bool compare(double lhs, Cmp cmp, double rhs) {
  switch (cmp) {
    case Cmp::kEq: return lhs == rhs;
    case Cmp::kNe: return lhs != rhs;
    case Cmp::kLt: return lhs < rhs;
    case Cmp::kLe: return lhs <= rhs;
    case Cmp::kGt: return lhs > rhs;
    case Cmp::kGe: return lhs >= rhs;
  }
  return false;
}

bool isWordChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '.' || c == '-' || c == '|' ||
         c == '*' || c == ':' || c == '/';
}

struct Token {
  std::string text;
  size_t position = 0;  // 1-based character position
  bool word = false;
};

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  StatusOr<std::shared_ptr<const CriteriaNode>> parse(std::set<std::string>& types,
                                                      std::set<std::string>& lookback_types) {
    lookback_types_ = &lookback_types;
    if (auto lexed = lex(); !lexed.isOk()) return lexed;
    if (tokens_.empty()) return fail(1, "the expression is empty");
    types_ = &types;
    auto root = orExpr();
    if (!error_.isOk()) return error_;
    if (pos_ < tokens_.size()) return fail(tokens_[pos_].position, "unexpected \"" + tokens_[pos_].text + "\"");
    return root;
  }

 private:
  Status lex() {
    size_t i = 0;
    while (i < text_.size()) {
      char c = text_[i];
      if (std::isspace(static_cast<unsigned char>(c)) != 0) {
        ++i;
        continue;
      }
      Token t;
      t.position = i + 1;
      if (isWordChar(c)) {
        size_t j = i;
        while (j < text_.size() && isWordChar(text_[j])) ++j;
        t.text = std::string(text_.substr(i, j - i));
        t.word = true;
        i = j;
      } else if (c == '(' || c == ')' || c == '[' || c == ']' || c == ',' || c == '+') {
        t.text = std::string(1, c);
        ++i;
      } else if (c == '=' || c == '<' || c == '>' || c == '!') {
        size_t len = i + 1 < text_.size() && text_[i + 1] == '=' ? 2 : 1;
        t.text = std::string(text_.substr(i, len));
        if (t.text == "!") return fail(t.position, "\"!\" must be \"!=\"");
        i += len;
      } else {
        return fail(t.position, std::string("unexpected character \"") + c + "\"");
      }
      tokens_.push_back(std::move(t));
    }
    return Status::ok();
  }

  Status fail(size_t position, const std::string& message) {
    return {StatusCode::kInvalidArgument, "at character " + std::to_string(position) + ": " + message};
  }
  // Records the first error; parsing unwinds with empty nodes.
  std::shared_ptr<const CriteriaNode> error(const std::string& message) {
    if (error_.isOk()) error_ = fail(here(), message);
    return nullptr;
  }
  size_t here() const { return pos_ < tokens_.size() ? tokens_[pos_].position : text_.size() + 1; }
  bool failed() const { return !error_.isOk(); }
  bool peek(std::string_view text) const { return pos_ < tokens_.size() && tokens_[pos_].text == text; }
  bool accept(std::string_view text) {
    if (!peek(text)) return false;
    ++pos_;
    return true;
  }
  bool expect(std::string_view text, std::string_view what) {
    if (accept(text)) return true;
    error("expected " + std::string(what) + (pos_ < tokens_.size() ? ", found \"" + tokens_[pos_].text + "\"" : ""));
    return false;
  }
  std::optional<std::string> word(std::string_view what) {
    if (pos_ < tokens_.size() && tokens_[pos_].word) return tokens_[pos_++].text;
    error("expected " + std::string(what) + (pos_ < tokens_.size() ? ", found \"" + tokens_[pos_].text + "\"" : ""));
    return std::nullopt;
  }
  std::optional<Cmp> comparison() {
    static const std::vector<std::pair<std::string_view, Cmp>> kOps = {
        {"=", Cmp::kEq}, {"!=", Cmp::kNe}, {"<", Cmp::kLt}, {"<=", Cmp::kLe}, {">", Cmp::kGt}, {">=", Cmp::kGe}};
    for (const auto& [text, cmp] : kOps) {
      if (accept(text)) return cmp;
    }
    error("expected a comparison (=, !=, <, <=, >, >=)");
    return std::nullopt;
  }
  std::optional<double> number(std::string_view what) {
    auto w = word(what);
    if (!w) return std::nullopt;
    double value = 0;
    auto [end, ec] = std::from_chars(w->data(), w->data() + w->size(), value);
    if (ec != std::errc() || end != w->data() + w->size()) {
      --pos_;
      error("expected " + std::string(what) + ", found \"" + *w + "\"");
      return std::nullopt;
    }
    return value;
  }

  std::shared_ptr<const CriteriaNode> combine(CriteriaNode::Kind kind, std::string_view op,
                                              std::shared_ptr<const CriteriaNode> (Parser::*next)()) {
    auto first = (this->*next)();
    if (failed() || !peek(op)) return first;
    auto node = std::make_shared<CriteriaNode>();
    node->kind = kind;
    node->children.push_back(first);
    while (!failed() && accept(op)) node->children.push_back((this->*next)());
    return node;
  }
  std::shared_ptr<const CriteriaNode> orExpr() { return combine(CriteriaNode::Kind::kOr, "or", &Parser::andExpr); }
  std::shared_ptr<const CriteriaNode> andExpr() { return combine(CriteriaNode::Kind::kAnd, "and", &Parser::unary); }

  std::shared_ptr<const CriteriaNode> unary() {
    if (++depth_ > 64) return error("the expression nests too deeply");
    struct Leave {
      int& depth;
      ~Leave() { --depth; }
    } leave{depth_};
    if (accept("not")) {
      auto node = std::make_shared<CriteriaNode>();
      node->kind = CriteriaNode::Kind::kNot;
      node->children.push_back(unary());
      return node;
    }
    if (accept("(")) {
      auto inner = orExpr();
      if (!failed()) expect(")", "\")\"");
      return inner;
    }
    return predicate();
  }

  std::shared_ptr<const CriteriaNode> predicate() {
    auto node = std::make_shared<CriteriaNode>();
    if (peek("exists") || peek("count") || peek("rises")) {
      std::string keyword = tokens_[pos_++].text;
      bool count = keyword == "count";
      node->kind = count                 ? CriteriaNode::Kind::kCount
                   : keyword == "rises" ? CriteriaNode::Kind::kRises
                                        : CriteriaNode::Kind::kExists;
      size_t source_start = pos_;
      if (!source(*node)) return nullptr;
      window(*node);
      if (node->kind == CriteriaNode::Kind::kRises || node->window != Window::kInPeriod) {
        // The types of this source are read back to the look-back start.
        size_t after = pos_;
        pos_ = source_start;
        looking_back_ = true;
        CriteriaNode again;
        source(again);
        looking_back_ = false;
        pos_ = after;
      }
      if (count && !failed()) {
        auto cmp = comparison();
        if (!cmp) return nullptr;
        node->cmp = *cmp;
        auto n = number("a number of days");
        if (!n) return nullptr;
        node->number = *n;
      }
      return node;
    }
    if (peek("age") || peek("age-months")) {
      node->kind = tokens_[pos_++].text == "age" ? CriteriaNode::Kind::kAge : CriteriaNode::Kind::kAgeMonths;
      auto cmp = comparison();
      if (!cmp) return nullptr;
      node->cmp = *cmp;
      auto n = number("an age");
      if (!n) return nullptr;
      node->number = *n;
      return node;
    }
    if (accept("gender")) {
      node->kind = CriteriaNode::Kind::kGender;
      auto cmp = comparison();
      if (!cmp) return nullptr;
      if (*cmp != Cmp::kEq && *cmp != Cmp::kNe) return error("gender compares only with = or !=");
      node->cmp = *cmp;
      auto g = word("a gender (male, female, other, unknown)");
      if (!g) return nullptr;
      if (*g != "male" && *g != "female" && *g != "other" && *g != "unknown") {
        --pos_;
        return error("gender is male, female, other or unknown, not \"" + *g + "\"");
      }
      node->word = *g;
      return node;
    }
    return error("expected exists, count, rises, age, age-months, gender, not or \"(\"" +
                 (pos_ < tokens_.size() ? ", found \"" + tokens_[pos_].text + "\"" : std::string()));
  }

  bool source(CriteriaNode& node) {
    bool parenthesised = accept("(");
    do {
      auto s = selector();
      if (!s) return false;
      node.source.push_back(std::move(*s));
    } while (accept("+"));
    if (parenthesised && !expect(")", "\")\" after the resources")) return false;
    return true;
  }

  void window(CriteriaNode& node) {
    Window w = Window::kInPeriod;
    if (accept("in")) {
      w = Window::kInPeriod;
    } else if (accept("before")) {
      w = Window::kBeforePeriod;
    } else if (accept("through")) {
      w = Window::kThroughPeriod;
    } else {
      return;  // default: in period
    }
    if (expect("period", "\"period\"")) node.window = w;
  }

  std::optional<Selector> selector() {
    static const std::set<std::string, std::less<>> kTypes = {"Encounter", "Observation", "Condition", "Immunization",
                                                              "MedicationRequest"};
    auto type = word("a resource type (Encounter, Observation, Condition, Immunization, MedicationRequest)");
    if (!type) return std::nullopt;
    if (!kTypes.contains(*type)) {
      --pos_;
      error("\"" + *type + "\" is not a resource type criteria read (Encounter, Observation, Condition, "
            "Immunization, MedicationRequest)");
      return std::nullopt;
    }
    types_->insert(*type);
    if (looking_back_) lookback_types_->insert(*type);
    Selector s;
    s.type = *type;
    if (accept("[")) {
      do {
        auto f = filter(s.type);
        if (!f) return std::nullopt;
        s.filters.push_back(std::move(*f));
      } while (accept("and"));
      if (!expect("]", "\"]\" or \"and\"")) return std::nullopt;
    }
    return s;
  }

  std::optional<CodeTest> codeTest() {
    auto w = word("a code (system|code, code, or a prefix ending in *)");
    if (!w) return std::nullopt;
    CodeTest t;
    std::string_view text = *w;
    if (size_t bar = text.rfind('|'); bar != std::string_view::npos) {
      std::string_view system = text.substr(0, bar);
      text = text.substr(bar + 1);
      std::string resolved(system);
      for (const auto& [alias, url] : criteriaSystemAliases()) {
        if (alias == system) resolved = std::string(url);
      }
      if (resolved.find("://") == std::string::npos) {
        --pos_;
        error("\"" + std::string(system) + "\" is neither a code system URL nor a known alias");
        return std::nullopt;
      }
      t.system = resolved;
    }
    if (!text.empty() && text.back() == '*') {
      t.prefix = true;
      text.remove_suffix(1);
    }
    if (text.empty() || text.find('*') != std::string_view::npos || text.find('|') != std::string_view::npos) {
      --pos_;
      error("\"" + *w + "\" is not a code");
      return std::nullopt;
    }
    t.code = std::string(text);
    return t;
  }

  std::optional<Filter> filter(const std::string& type) {
    auto name = word("a field (code, klaster, stage, interpretation, value, status)");
    if (!name) return std::nullopt;
    Filter f;
    static const std::vector<std::pair<std::string_view, Field>> kFields = {
        {"code", Field::kCode},   {"klaster", Field::kKlaster},         {"stage", Field::kStage},
        {"value", Field::kValue}, {"interpretation", Field::kInterpretation}, {"status", Field::kStatus}};
    auto it = std::find_if(kFields.begin(), kFields.end(), [&](const auto& e) { return e.first == *name; });
    if (it == kFields.end()) {
      --pos_;
      error("\"" + *name + "\" is not a field (code, klaster, stage, interpretation, value, status)");
      return std::nullopt;
    }
    f.field = it->second;
    bool encounter_only = f.field == Field::kKlaster || f.field == Field::kStage;
    bool observation_only = f.field == Field::kInterpretation || f.field == Field::kValue;
    if ((encounter_only && type != "Encounter") || (observation_only && type != "Observation")) {
      --pos_;
      error("field \"" + *name + "\" exists only on " + (encounter_only ? "Encounter" : "Observation"));
      return std::nullopt;
    }
    if (f.field == Field::kValue) {
      auto cmp = comparison();
      if (!cmp) return std::nullopt;
      f.cmp = *cmp;
      if ((f.cmp == Cmp::kEq || f.cmp == Cmp::kNe) && (peek("true") || peek("false"))) {
        f.flag = tokens_[pos_++].text == "true";
        return f;
      }
      auto n = number("a number, true or false");
      if (!n) return std::nullopt;
      f.number = *n;
      return f;
    }
    // Codes and words: = one, != one, in (several).
    bool list = false;
    if (accept("in")) {
      list = true;
      f.cmp = Cmp::kEq;
      if (!expect("(", "\"(\" after in")) return std::nullopt;
    } else if (accept("=")) {
      f.cmp = Cmp::kEq;
    } else if (accept("!=")) {
      f.cmp = Cmp::kNe;
    } else {
      error("expected =, != or in after \"" + *name + "\"");
      return std::nullopt;
    }
    do {
      if (f.field == Field::kCode) {
        auto t = codeTest();
        if (!t) return std::nullopt;
        f.codes.push_back(std::move(*t));
      } else {
        auto w = word("a value");
        if (!w) return std::nullopt;
        f.words.push_back(*w);
      }
    } while (list && accept(","));
    if (list && !expect(")", "\")\" or \",\"")) return std::nullopt;
    return f;
  }

  std::string_view text_;
  std::vector<Token> tokens_;
  size_t pos_ = 0;
  int depth_ = 0;
  Status error_;
  std::set<std::string>* types_ = nullptr;
  std::set<std::string>* lookback_types_ = nullptr;
  bool looking_back_ = false;
};

bool codeMatches(const CodeTest& test, const Fact& fact) {
  for (const auto& [system, code] : fact.codes) {
    if (test.system && *test.system != system) continue;
    if (test.prefix ? code.starts_with(test.code) : code == test.code) return true;
  }
  return false;
}

bool filterMatches(const Filter& f, const Fact& fact) {
  auto anyWord = [&](const std::string& value) {
    return std::find(f.words.begin(), f.words.end(), value) != f.words.end();
  };
  bool hit = false;
  switch (f.field) {
    case Field::kCode:
      hit = std::any_of(f.codes.begin(), f.codes.end(), [&](const CodeTest& t) { return codeMatches(t, fact); });
      break;
    case Field::kKlaster: hit = anyWord(fact.klaster); break;
    case Field::kStage: hit = anyWord(fact.stage); break;
    case Field::kStatus: hit = anyWord(fact.status); break;
    case Field::kInterpretation:
      hit = std::any_of(fact.interpretation.begin(), fact.interpretation.end(), anyWord);
      break;
    case Field::kValue:
      if (f.flag) return fact.flag && ((*fact.flag == *f.flag) == (f.cmp == Cmp::kEq));
      return fact.value && compare(*fact.value, f.cmp, f.number);
  }
  return f.cmp == Cmp::kNe ? !hit : hit;
}

bool inWindow(const std::string& date, Window window, const CriteriaPeriod& period) {
  if (date.empty()) return false;
  switch (window) {
    case Window::kInPeriod: return date >= period.start && date <= period.end;
    case Window::kBeforePeriod: return date >= period.lookback_start && date < period.start;
    case Window::kThroughPeriod: return date >= period.lookback_start && date <= period.end;
  }
  return false;
}

bool selects(const CriteriaNode& node, const Fact& fact) {
  return std::any_of(node.source.begin(), node.source.end(), [&](const Selector& s) {
    return s.type == fact.type &&
           std::all_of(s.filters.begin(), s.filters.end(), [&](const Filter& f) { return filterMatches(f, fact); });
  });
}

bool evaluate(const CriteriaNode& node, const PatientFacts& patient, const CriteriaPeriod& period) {
  using K = CriteriaNode::Kind;
  switch (node.kind) {
    case K::kAnd:
      return std::all_of(node.children.begin(), node.children.end(),
                         [&](const auto& c) { return evaluate(*c, patient, period); });
    case K::kOr:
      return std::any_of(node.children.begin(), node.children.end(),
                         [&](const auto& c) { return evaluate(*c, patient, period); });
    case K::kNot: return !evaluate(*node.children.front(), patient, period);
    case K::kExists:
    case K::kCount: {
      std::set<std::string_view> days;
      for (const Fact& fact : patient.facts) {
        if (!inWindow(fact.date, node.window, period)) continue;
        if (!selects(node, fact)) continue;
        if (node.kind == K::kExists) return true;
        days.insert(fact.date);
      }
      if (node.kind == K::kExists) return false;
      return compare(static_cast<double>(days.size()), node.cmp, node.number);
    }
    case K::kRises: {
      // The last value in the window against the last one on an earlier day
      // (as far back as the lookback reaches).
      const Fact* last = nullptr;
      for (const Fact& fact : patient.facts) {
        if (fact.value && inWindow(fact.date, node.window, period) && selects(node, fact) &&
            (last == nullptr || fact.date >= last->date)) {
          last = &fact;
        }
      }
      if (last == nullptr) return false;
      const Fact* previous = nullptr;
      for (const Fact& fact : patient.facts) {
        if (fact.value && fact.date < last->date && fact.date >= period.lookback_start && selects(node, fact) &&
            (previous == nullptr || fact.date >= previous->date)) {
          previous = &fact;
        }
      }
      return previous != nullptr && *last->value > *previous->value;
    }
    case K::kAge:
    case K::kAgeMonths: {
      auto months = ageInMonths(patient.birth_date, period.end);
      if (!months) return false;  // no birth date: no age criterion holds
      double age = node.kind == K::kAge ? static_cast<double>(*months / 12) : static_cast<double>(*months);
      return compare(age, node.cmp, node.number);
    }
    case K::kGender: return (patient.gender == node.word) == (node.cmp == Cmp::kEq);
  }
  return false;
}

std::optional<int> number(std::string_view text) {
  int value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace

std::optional<int> ageInMonths(std::string_view birth_date, std::string_view at) {
  if (birth_date.size() < 10 || at.size() < 10 || birth_date[4] != '-' || at[4] != '-') return std::nullopt;
  auto by = number(birth_date.substr(0, 4)), bm = number(birth_date.substr(5, 2)), bd = number(birth_date.substr(8, 2));
  auto ay = number(at.substr(0, 4)), am = number(at.substr(5, 2)), ad = number(at.substr(8, 2));
  if (!by || !bm || !bd || !ay || !am || !ad) return std::nullopt;
  int months = (*ay - *by) * 12 + (*am - *bm) - (*ad < *bd ? 1 : 0);
  if (months < 0) return std::nullopt;
  return months;
}

StatusOr<Criteria> Criteria::parse(std::string_view text) {
  if (text.size() > 16 * 1024) return Status{StatusCode::kInvalidArgument, "the expression is longer than 16 KiB"};
  Criteria c;
  Parser parser(text);
  auto root = parser.parse(c.types_, c.lookback_types_);
  if (!root.isOk()) return root.status();
  c.root_ = root.value();
  c.text_ = std::string(text);
  return c;
}

bool Criteria::matches(const PatientFacts& patient, const CriteriaPeriod& period) const {
  return root_ && evaluate(*root_, patient, period);
}

}  // namespace ilpgw::report
