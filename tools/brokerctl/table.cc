#include "table.h"

#include <algorithm>

namespace brokerctl {

void print_table(std::ostream& out, const TableRow& header, const std::vector<TableRow>& rows,
                 const std::string& align) {
  auto left = [&](size_t column) { return column < align.size() ? align[column] == 'l' : column == 0; };
  std::vector<size_t> widths(header.size(), 0);
  auto widen = [&](const TableRow& row) {
    for (size_t column = 0; column < widths.size() && column < row.size(); ++column) {
      widths[column] = std::max(widths[column], row[column].size());
    }
  };
  widen(header);
  for (const TableRow& row : rows) widen(row);

  auto print_row = [&](const TableRow& row) {
    std::string line;
    for (size_t column = 0; column < widths.size(); ++column) {
      const std::string cell = column < row.size() ? row[column] : std::string();
      const std::string padding(widths[column] - cell.size(), ' ');
      if (column > 0) line += "  ";
      line += left(column) ? cell + padding : padding + cell;
    }
    line.erase(line.find_last_not_of(' ') + 1);
    out << line << '\n';
  };
  print_row(header);
  for (const TableRow& row : rows) print_row(row);
}

}  // namespace brokerctl
