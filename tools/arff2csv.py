#!/usr/bin/env python3
"""arff2csv - converts a Weka ARFF file (dense @data only) to a CSV with a header row.

Used once to make datasets/german_credit.csv and datasets/breast_cancer.csv from
the copies of the UCI data Debian's weka package ships (see the PROVENANCE files).
Text categories are written as they are (quoted when they hold a comma or a
quote), ARFF's missing value '?' becomes the cell '?' (libfl reads '?', 'NA' and
an empty cell as missing).  Usage: arff2csv.py IN.arff OUT.csv
"""
import csv
import sys


def parse_row(line):
    # ARFF data rows: comma separated, values optionally in single quotes.
    out, cur, quote, i = [], [], None, 0
    while i < len(line):
        c = line[i]
        if quote:
            if c == '\\' and i + 1 < len(line):
                cur.append(line[i + 1]); i += 2; continue
            if c == quote:
                quote = None
            else:
                cur.append(c)
        elif c in "'\"":
            quote = c
        elif c == ',':
            out.append(''.join(cur).strip()); cur = []
        else:
            cur.append(c)
        i += 1
    out.append(''.join(cur).strip())
    return out


def main():
    src, dst = sys.argv[1], sys.argv[2]
    names, rows, in_data = [], [], False
    with open(src, encoding='latin-1') as f:
        for raw in f:
            line = raw.strip()
            if not line or line.startswith('%'):
                continue
            low = line.lower()
            if not in_data and low.startswith('@attribute'):
                rest = line[len('@attribute'):].strip()
                if rest[0] in "'\"":
                    name = rest[1:rest.index(rest[0], 1)]
                else:
                    name = rest.split()[0]
                names.append(name)
            elif low.startswith('@data'):
                in_data = True
            elif in_data:
                row = parse_row(line)
                if len(row) != len(names):
                    sys.exit('%s: row with %d values, %d attributes' % (src, len(row), len(names)))
                rows.append(row)
    with open(dst, 'w', newline='') as f:
        w = csv.writer(f, lineterminator='\n')
        w.writerow(names)
        w.writerows(rows)


if __name__ == '__main__':
    main()
