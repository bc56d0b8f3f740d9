// A plain text table: columns sized to their widest cell, two spaces apart, text
// left-aligned and counts right-aligned so their digits line up.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace brokerctl {

using TableRow = std::vector<std::string>;

// Prints `header` and then `rows` (each as long as the header). `align` has one letter
// per column, 'l' (left) or 'r' (right); missing letters mean: the first column left,
// the others right. The header is printed even when there are no rows. Trailing spaces
// are trimmed from each line.
void print_table(std::ostream& out, const TableRow& header, const std::vector<TableRow>& rows,
                 const std::string& align = "l");

}  // namespace brokerctl
