#include "er7.h"

namespace ilpgw::plugins::hl7v2_oru {
namespace {

const std::string& emptyString() {
  static const std::string kEmpty;
  return kEmpty;
}

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (;;) {
    size_t at = text.find(separator, start);
    if (at == std::string_view::npos) {
      parts.push_back(text.substr(start));
      return parts;
    }
    parts.push_back(text.substr(start, at - start));
    start = at + 1;
  }
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Field parseField(std::string_view text, const Delimiters& d) {
  Field field;
  if (text.empty()) return field;
  for (std::string_view rep : split(text, d.repetition)) {
    std::vector<std::vector<std::string>> components;
    for (std::string_view component : split(rep, d.component)) {
      std::vector<std::string> subs;
      for (std::string_view sub : split(component, d.subcomponent)) subs.push_back(unescape(sub, d));
      components.push_back(std::move(subs));
    }
    field.reps_.push_back(std::move(components));
  }
  return field;
}

// Splits on \r, \n or \r\n; keeps the segment's 1-based number.
std::vector<std::pair<std::string_view, size_t>> segmentsOf(std::string_view payload) {
  std::vector<std::pair<std::string_view, size_t>> out;
  size_t start = 0;
  size_t number = 0;
  while (start <= payload.size()) {
    size_t at = payload.find_first_of("\r\n", start);
    std::string_view line = payload.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start);
    ++number;
    out.emplace_back(line, number);
    if (at == std::string_view::npos) break;
    start = at + 1;
    if (payload[at] == '\r' && start < payload.size() && payload[start] == '\n') ++start;
  }
  return out;
}

bool isBatchEnvelope(std::string_view id) { return id == "FHS" || id == "BHS" || id == "BTS" || id == "FTS"; }

}  // namespace

const std::string& Field::at(size_t component, size_t subcomponent, size_t repetition) const {
  if (repetition >= reps_.size() || component == 0 || subcomponent == 0) return emptyString();
  const auto& components = reps_[repetition];
  if (component > components.size()) return emptyString();
  const auto& subs = components[component - 1];
  if (subcomponent > subs.size()) return emptyString();
  return subs[subcomponent - 1];
}

size_t Field::components(size_t repetition) const {
  return repetition < reps_.size() ? reps_[repetition].size() : 0;
}

bool Field::empty() const {
  for (const auto& rep : reps_) {
    for (const auto& component : rep) {
      for (const auto& sub : component) {
        if (!sub.empty()) return false;
      }
    }
  }
  return true;
}

const Field& Segment::field(size_t n) const {
  static const Field kEmpty;
  return n < fields.size() ? fields[n] : kEmpty;
}

std::string unescape(std::string_view text, const Delimiters& d) {
  if (text.find(d.escape) == std::string_view::npos) return std::string(text);
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != d.escape) {
      out.push_back(text[i]);
      continue;
    }
    size_t end = text.find(d.escape, i + 1);
    if (end == std::string_view::npos) {  // unterminated: keep as written
      out.append(text.substr(i));
      break;
    }
    std::string_view code = text.substr(i + 1, end - i - 1);
    bool known = true;
    if (code == "F") {
      out.push_back(d.field);
    } else if (code == "S") {
      out.push_back(d.component);
    } else if (code == "T") {
      out.push_back(d.subcomponent);
    } else if (code == "R") {
      out.push_back(d.repetition);
    } else if (code == "E") {
      out.push_back(d.escape);
    } else if (code == ".br") {
      out.push_back('\n');
    } else if (code == "H" || code == "N") {
      // highlighting on/off: no meaning in FHIR text
    } else if (code.size() >= 3 && code[0] == 'X' && code.size() % 2 == 1) {
      std::string bytes;
      for (size_t k = 1; k + 1 < code.size() + 1 && known; k += 2) {
        int hi = hexValue(code[k]);
        int lo = hexValue(code[k + 1]);
        if (hi < 0 || lo < 0) known = false;
        else bytes.push_back(static_cast<char>(hi * 16 + lo));
      }
      if (known) out += bytes;
    } else {
      known = false;
    }
    if (!known) out.append(text.substr(i, end - i + 1));
    i = end;
  }
  return out;
}

ParsedPayload parseEr7(std::string_view payload) {
  ParsedPayload parsed;
  // MLLP framing (VT ... FS CR) sometimes survives into HTTP bodies.
  while (!payload.empty() && (payload.front() == '\x0b' || payload.front() == ' ')) payload.remove_prefix(1);
  while (!payload.empty() && (payload.back() == '\x1c' || payload.back() == '\r' || payload.back() == '\n' ||
                              payload.back() == ' ')) {
    payload.remove_suffix(1);
  }
  if (payload.size() >= 3 && payload.substr(0, 3) == "\xEF\xBB\xBF") payload.remove_prefix(3);
  Message* current = nullptr;
  Delimiters d;
  for (const auto& [line, number] : segmentsOf(payload)) {
    if (line.empty()) continue;
    if (line.size() >= 3 && (line.substr(0, 3) == "MSH" || line.substr(0, 3) == "FHS" || line.substr(0, 3) == "BHS")) {
      // Header segments declare the encoding characters right after their id.
      if (line.size() < 8) {
        parsed.problems.push_back({number, std::string(line.substr(0, 3)) + " segment too short to declare encoding characters"});
        current = nullptr;
        continue;
      }
      d.field = line[3];
      d.component = line[4];
      d.repetition = line[5];
      d.escape = line[6];
      d.subcomponent = line[7];
      if (d.subcomponent == d.field) d.subcomponent = '&';  // only 3 encoding characters declared (v2.1)
      if (line.substr(0, 3) != "MSH") continue;
      parsed.messages.push_back(Message{d, {}});
      current = &parsed.messages.back();
      Segment msh;
      msh.id = "MSH";
      msh.line = number;
      msh.fields.push_back(Field{{{{"MSH"}}}});
      msh.fields.push_back(Field{{{{std::string(1, d.field)}}}});
      size_t encoding_end = line.find(d.field, 4);
      std::string_view encoding = line.substr(4, encoding_end == std::string_view::npos ? std::string_view::npos
                                                                                       : encoding_end - 4);
      msh.fields.push_back(Field{{{{std::string(encoding)}}}});
      if (encoding_end != std::string_view::npos) {
        for (std::string_view text : split(line.substr(encoding_end + 1), d.field)) {
          msh.fields.push_back(parseField(text, d));
        }
      }
      current->segments.push_back(std::move(msh));
      continue;
    }
    std::vector<std::string_view> parts = split(line, d.field);
    std::string id(parts[0]);
    if (isBatchEnvelope(id)) continue;
    if (current == nullptr) {
      parsed.problems.push_back({number, "segment " + id.substr(0, 8) + " before the first MSH"});
      continue;
    }
    Segment segment;
    segment.id = id;
    segment.line = number;
    segment.fields.push_back(Field{{{{id}}}});
    for (size_t i = 1; i < parts.size(); ++i) segment.fields.push_back(parseField(parts[i], d));
    current->segments.push_back(std::move(segment));
  }
  if (parsed.messages.empty() && parsed.problems.empty()) {
    parsed.problems.push_back({0, "no HL7 v2 message found (a message starts with an MSH segment)"});
  }
  return parsed;
}

}  // namespace ilpgw::plugins::hl7v2_oru
