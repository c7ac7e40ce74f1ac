// HL7 v2.x ER7 ("pipe and hat") parser: the wire syntax only, no message
// semantics. Knows the encoding characters each MSH declares, the segment
// separators seen in the field (\r as the standard says, \n and \r\n as
// files and HTTP clients produce them), repetitions, components,
// subcomponents and escape sequences. Batches (FHS/BHS ... BTS/FTS) yield one
// Message per MSH.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace ilpgw::plugins::hl7v2_oru {

struct Delimiters {
  char field = '|';
  char component = '^';
  char repetition = '~';
  char escape = '\\';
  char subcomponent = '&';
};

// One field: repetitions of components of subcomponents, each unescaped.
// Absent parts read as empty strings, so callers never index out of range.
class Field {
 public:
  // 1-based component and subcomponent, 0-based repetition, as HL7 counts.
  const std::string& at(size_t component = 1, size_t subcomponent = 1, size_t repetition = 0) const;
  size_t repetitions() const { return reps_.size(); }
  size_t components(size_t repetition = 0) const;
  bool empty() const;

  std::vector<std::vector<std::vector<std::string>>> reps_;
};

struct Segment {
  std::string id;             // MSH, PID, OBR, OBX ...
  std::vector<Field> fields;  // fields[n] is field n (fields[0] holds the id)
  size_t line = 0;            // 1-based segment number within the payload

  const Field& field(size_t n) const;
  // Shorthand for field(n).at(component, subcomponent, repetition).
  const std::string& value(size_t n, size_t component = 1, size_t subcomponent = 1, size_t repetition = 0) const {
    return field(n).at(component, subcomponent, repetition);
  }
};

struct Message {
  Delimiters delimiters;
  std::vector<Segment> segments;  // segments[0] is the MSH
};

struct ParseProblem {
  size_t line = 0;  // segment number, 0 for the payload as a whole
  std::string message;
};

struct ParsedPayload {
  std::vector<Message> messages;
  std::vector<ParseProblem> problems;  // payload-level: nothing readable, garbage before MSH
};

ParsedPayload parseEr7(std::string_view payload);

// Resolves escape sequences of one field component: \F\ \S\ \T\ \R\ \E\,
// \Xhh..\ (hex bytes), \.br\ (line break); highlighting (\H\ \N\) is dropped;
// an unknown or unterminated sequence is kept as written.
std::string unescape(std::string_view text, const Delimiters& d);

}  // namespace ilpgw::plugins::hl7v2_oru
