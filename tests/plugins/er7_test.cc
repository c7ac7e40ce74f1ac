// The ER7 wire syntax: separators, escapes, repetitions, batches.
#include <gtest/gtest.h>

#include "er7.h"

namespace ilpgw::plugins::hl7v2_oru {
namespace {

TEST(Er7Test, SplitsSegmentsOnCrLfAndCrLf) {
  for (const char* separator : {"\r", "\n", "\r\n"}) {
    std::string text = std::string("MSH|^~\\&|A|B|||||ORU^R01|1|P|2.5") + separator + "PID|1||X" + separator +
                       "OBX|1|ST|C||v" + separator;
    ParsedPayload parsed = parseEr7(text);
    ASSERT_EQ(parsed.messages.size(), 1u);
    ASSERT_EQ(parsed.messages[0].segments.size(), 3u);
    EXPECT_EQ(parsed.messages[0].segments[2].id, "OBX");
    EXPECT_EQ(parsed.messages[0].segments[2].value(5), "v");
  }
}

TEST(Er7Test, NumbersMshFieldsFromTheFieldSeparator) {
  ParsedPayload parsed = parseEr7("MSH|^~\\&|APP|FAC|||20240101||ORU^R01^ORU_R01|CTRL-1|P|2.5.1");
  const Segment& msh = parsed.messages.at(0).segments.at(0);
  EXPECT_EQ(msh.value(1), "|");
  EXPECT_EQ(msh.value(2), "^~\\&");
  EXPECT_EQ(msh.value(3), "APP");
  EXPECT_EQ(msh.value(9, 1), "ORU");
  EXPECT_EQ(msh.value(9, 2), "R01");
  EXPECT_EQ(msh.value(10), "CTRL-1");
  EXPECT_EQ(msh.value(12), "2.5.1");
}

TEST(Er7Test, ReadsRepetitionsComponentsAndSubcomponents) {
  ParsedPayload parsed =
      parseEr7("MSH|^~\\&|A\rPID|1||3201014502900003^^^NIK&2.16.1&ISO^NNIDN~RM-1^^^PKM^MR||Lestari^Siti");
  const Segment& pid = parsed.messages.at(0).segments.at(1);
  const Field& ids = pid.field(3);
  ASSERT_EQ(ids.repetitions(), 2u);
  EXPECT_EQ(ids.at(1, 1, 0), "3201014502900003");
  EXPECT_EQ(ids.at(4, 1, 0), "NIK");
  EXPECT_EQ(ids.at(4, 2, 0), "2.16.1");
  EXPECT_EQ(ids.at(4, 3, 0), "ISO");
  EXPECT_EQ(ids.at(5, 1, 0), "NNIDN");
  EXPECT_EQ(ids.at(1, 1, 1), "RM-1");
  EXPECT_EQ(ids.at(5, 1, 1), "MR");
  EXPECT_EQ(pid.value(5, 2), "Siti");
  // Absent parts read as empty, never out of range.
  EXPECT_EQ(ids.at(9, 9, 9), "");
  EXPECT_EQ(pid.value(40), "");
}

TEST(Er7Test, ResolvesEscapeSequences) {
  Delimiters d;
  EXPECT_EQ(unescape("a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f", d), "a|b^c&d~e\\f");
  EXPECT_EQ(unescape("line 1\\.br\\line 2", d), "line 1\nline 2");
  EXPECT_EQ(unescape("\\X41424344\\", d), "ABCD");
  EXPECT_EQ(unescape("\\XC3A9\\", d), "\xC3\xA9");  // é as UTF-8 bytes
  EXPECT_EQ(unescape("\\H\\bold\\N\\", d), "bold");
  EXPECT_EQ(unescape("10\\S\\3/uL", d), "10^3/uL");
  // Unknown or unterminated: kept as written, never dropped.
  EXPECT_EQ(unescape("\\Q\\x", d), "\\Q\\x");
  EXPECT_EQ(unescape("\\X4\\", d), "\\X4\\");
  EXPECT_EQ(unescape("trailing\\", d), "trailing\\");
}

TEST(Er7Test, HonoursEncodingCharactersDeclaredInMsh) {
  // Field '#', component '$', repetition '*', escape '!', subcomponent '%'.
  ParsedPayload parsed = parseEr7("MSH#$*!%#APP\rOBX#1#ST#C$Code##a!F!b*second%sub");
  const Segment& obx = parsed.messages.at(0).segments.at(1);
  EXPECT_EQ(obx.value(3, 2), "Code");
  EXPECT_EQ(obx.value(5), "a#b");
  EXPECT_EQ(obx.field(5).at(1, 1, 1), "second");
  EXPECT_EQ(obx.field(5).at(1, 2, 1), "sub");
}

TEST(Er7Test, EachMshStartsAMessageAndBatchEnvelopesAreSkipped) {
  ParsedPayload parsed = parseEr7(
      "FHS|^~\\&|A\nBHS|^~\\&|A\nMSH|^~\\&|A|||||ORU^R01|1\nPID|1\nMSH|^~\\&|A|||||ORU^R01|2\nPID|2\nBTS|2\nFTS|1\n");
  ASSERT_EQ(parsed.messages.size(), 2u);
  EXPECT_TRUE(parsed.problems.empty());
  EXPECT_EQ(parsed.messages[0].segments.size(), 2u);
  EXPECT_EQ(parsed.messages[1].segments[1].value(1), "2");  // PID-1 of the second message
}

TEST(Er7Test, StripsMllpFramingAndBom) {
  ParsedPayload parsed = parseEr7("\x0bMSH|^~\\&|A|||||ORU^R01|1\rPID|1\r\x1c\r");
  ASSERT_EQ(parsed.messages.size(), 1u);
  EXPECT_EQ(parsed.messages[0].segments.size(), 2u);
}

TEST(Er7Test, ReportsTextThatIsNotHl7) {
  ParsedPayload parsed = parseEr7("{\"resourceType\":\"Patient\"}");
  EXPECT_TRUE(parsed.messages.empty());
  ASSERT_FALSE(parsed.problems.empty());
  EXPECT_NE(parsed.problems[0].message.find("before the first MSH"), std::string::npos);
  EXPECT_FALSE(parseEr7("").problems.empty());
  EXPECT_FALSE(parseEr7("MSH|^").problems.empty());
}

}  // namespace
}  // namespace ilpgw::plugins::hl7v2_oru
