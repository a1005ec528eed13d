#!/usr/bin/env python3
"""Render a terminal capture (`tmux capture-pane -p -e`) to a PNG, cell by cell.

Understands the SGR sequences tmux emits: reset, bold, dim, italic, underline, reverse,
16 colours (30-37, 90-97, 40-47, 100-107), 256 colours (38;5;n / 48;5;n) and truecolor
(38;2;r;g;b / 48;2;r;g;b). Every other escape sequence is skipped. Glyphs come from DejaVu
Sans Mono, falling back to DejaVu Sans for symbols the monospace font lacks.

Usage: ansi2png.py CAPTURE.ans OUT.png [--cols 160] [--rows 45]
Needs: Pillow (Debian: python3-pil) and DejaVu fonts (Debian: fonts-dejavu-core).
"""

import argparse
import re
import sys
import unicodedata

try:
    from PIL import Image, ImageDraw, ImageFont
except ImportError:
    sys.exit("ansi2png.py needs Pillow: apt-get install python3-pil (or pip install pillow)")

FONT_DIRS = ["/usr/share/fonts/truetype/dejavu/"]
FONT_SIZE = 16

# xterm's default 16-colour palette.
PALETTE16 = [
    (0, 0, 0), (205, 0, 0), (0, 205, 0), (205, 205, 0),
    (0, 0, 238), (205, 0, 205), (0, 205, 205), (229, 229, 229),
    (127, 127, 127), (255, 0, 0), (0, 255, 0), (255, 255, 0),
    (92, 92, 255), (255, 0, 255), (0, 255, 255), (255, 255, 255),
]
DEFAULT_FG = (208, 208, 208)
DEFAULT_BG = (24, 24, 24)


def color256(n):
    if n < 16:
        return PALETTE16[n]
    if n < 232:
        n -= 16
        steps = [0, 95, 135, 175, 215, 255]
        return (steps[n // 36], steps[(n // 6) % 6], steps[n % 6])
    v = 8 + (n - 232) * 10
    return (v, v, v)


def load_font(name):
    for d in FONT_DIRS:
        try:
            return ImageFont.truetype(d + name, FONT_SIZE)
        except OSError:
            pass
    sys.exit(f"ansi2png.py needs the DejaVu fonts ({name}): apt-get install fonts-dejavu-core")


class Style:
    def __init__(self):
        self.reset()

    def reset(self):
        self.fg = None
        self.bg = None
        self.bold = False
        self.dim = False
        self.reverse = False
        self.underline = False

    def copy(self):
        s = Style()
        s.__dict__.update(self.__dict__)
        return s

    def apply(self, params):
        ps = [int(p) if p.isdigit() else 0 for p in params.split(";")] if params else [0]
        i = 0
        while i < len(ps):
            p = ps[i]
            if p == 0:
                self.reset()
            elif p == 1:
                self.bold = True
            elif p == 2:
                self.dim = True
            elif p == 4:
                self.underline = True
            elif p == 7:
                self.reverse = True
            elif p == 22:
                self.bold = self.dim = False
            elif p == 24:
                self.underline = False
            elif p == 27:
                self.reverse = False
            elif 30 <= p <= 37:
                self.fg = PALETTE16[p - 30]
            elif 90 <= p <= 97:
                self.fg = PALETTE16[p - 90 + 8]
            elif 40 <= p <= 47:
                self.bg = PALETTE16[p - 40]
            elif 100 <= p <= 107:
                self.bg = PALETTE16[p - 100 + 8]
            elif p == 39:
                self.fg = None
            elif p == 49:
                self.bg = None
            elif p in (38, 48) and i + 1 < len(ps):
                if ps[i + 1] == 5 and i + 2 < len(ps):
                    c = color256(ps[i + 2])
                    i += 2
                elif ps[i + 1] == 2 and i + 4 < len(ps):
                    c = tuple(ps[i + 2:i + 5])
                    i += 4
                else:
                    c = None
                if p == 38:
                    self.fg = c
                else:
                    self.bg = c
            i += 1


ESC = re.compile(r"\x1b\[([0-9;?]*)([A-Za-z])|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b.")


def parse(text, cols, rows):
    grid = [[(" ", Style()) for _ in range(cols)] for _ in range(rows)]
    style = Style()
    for y, line in enumerate(text.split("\n")[:rows]):
        x = 0
        pos = 0
        for m in ESC.finditer(line):
            x = put(grid[y], x, line[pos:m.start()], style, cols)
            if m.group(2) == "m":
                style.apply(m.group(1))
            pos = m.end()
        put(grid[y], x, line[pos:], style, cols)
    return grid


def width(ch):
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def put(row, x, text, style, cols):
    for ch in text:
        w = width(ch)
        if w == 0 or x >= cols:
            continue
        row[x] = (ch, style.copy())
        if w == 2 and x + 1 < cols:
            row[x + 1] = ("", style.copy())
        x += w
    return x


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("capture")
    ap.add_argument("out")
    ap.add_argument("--cols", type=int, default=160)
    ap.add_argument("--rows", type=int, default=45)
    a = ap.parse_args()

    with open(a.capture, encoding="utf-8", errors="replace") as f:
        grid = parse(f.read(), a.cols, a.rows)

    regular = load_font("DejaVuSansMono.ttf")
    bold = load_font("DejaVuSansMono-Bold.ttf")
    fallback = load_font("DejaVuSans.ttf")
    def glyph(font, ch):
        im = Image.new("L", (3 * FONT_SIZE, 2 * FONT_SIZE))
        ImageDraw.Draw(im).text((0, 0), ch, font=font, fill=255)
        return im.tobytes()

    # A character the font lacks is drawn as the same "missing glyph" box as a private-use one.
    missing = glyph(regular, "\U000FFFFD")
    cache = {}

    def font_for(ch, is_bold):
        f = bold if is_bold else regular
        if ord(ch) > 0x7F:
            if ch not in cache:
                cache[ch] = glyph(regular, ch) == missing
            if cache[ch]:
                return fallback
        return f

    left, top, right, bottom = regular.getbbox("M")
    cw = round(regular.getlength("M"))
    ch_h = FONT_SIZE + 4
    pad = 8
    img = Image.new("RGB", (a.cols * cw + 2 * pad, a.rows * ch_h + 2 * pad), DEFAULT_BG)
    draw = ImageDraw.Draw(img)
    def colours(st):
        fg = st.fg or DEFAULT_FG
        bg = st.bg or DEFAULT_BG
        if st.reverse:
            fg, bg = bg, fg
        if st.dim and not st.reverse:
            fg = tuple(int(c * 0.6 + bg[i] * 0.4) for i, c in enumerate(fg))
        return fg, bg

    # Backgrounds first, then glyphs: a glyph that reaches below its cell (an underscore)
    # is not painted over by the next row's background.
    for y, row in enumerate(grid):
        for x, (ch, st) in enumerate(row):
            _, bg = colours(st)
            if bg != DEFAULT_BG:
                px, py = pad + x * cw, pad + y * ch_h
                draw.rectangle([px, py, px + cw - 1, py + ch_h - 1], fill=bg)
    for y, row in enumerate(grid):
        for x, (ch, st) in enumerate(row):
            if not ch or ch == " ":
                continue
            fg, _ = colours(st)
            px, py = pad + x * cw, pad + y * ch_h
            if "\u2500" <= ch <= "\u259f":
                # Box drawing and blocks: stretch to the full cell so lines join up.
                box(draw, ch, px, py, cw, ch_h, fg, font_for(ch, False))
                continue
            draw.text((px, py + 2), ch, font=font_for(ch, st.bold), fill=fg)
            if st.underline:
                draw.line([px, py + ch_h - 2, px + cw - 1, py + ch_h - 2], fill=fg)
    img.save(a.out, "PNG")


def box(draw, ch, px, py, cw, ch_h, fg, font):
    """Draws box-drawing characters with lines through the cell centre, so borders are
    continuous whatever the font's line height; other block characters use the font."""
    cx, cy = px + cw // 2, py + ch_h // 2
    right, bottom = px + cw - 1, py + ch_h - 1
    light = {
        "─": "lr", "│": "tb", "╭": "rb", "╮": "lb", "╰": "rt", "╯": "lt",
        "┌": "rb", "┐": "lb", "└": "rt", "┘": "lt", "├": "tbr", "┤": "tbl",
        "┬": "lrb", "┴": "lrt", "┼": "lrtb",
    }
    heavy = {"═": "lr", "║": "tb", "╔": "rb", "╗": "lb", "╚": "rt", "╝": "lt"}
    if ch in light or ch in heavy:
        parts = light.get(ch) or heavy.get(ch)
        offsets = [0] if ch in light else [-2, 2]
        for o in offsets:
            for p in parts:
                if p == "l":
                    draw.line([px, cy + o, cx, cy + o], fill=fg)
                elif p == "r":
                    draw.line([cx, cy + o, right, cy + o], fill=fg)
                elif p == "t":
                    draw.line([cx + o, py, cx + o, cy], fill=fg)
                elif p == "b":
                    draw.line([cx + o, cy, cx + o, bottom], fill=fg)
        return
    if ch == "█":
        draw.rectangle([px, py, right, bottom], fill=fg)
        return
    if "\u2581" <= ch <= "\u2588":
        # Lower eighth blocks (the sparkline).
        eighths = ord(ch) - 0x2580
        draw.rectangle([px, bottom - (ch_h * eighths) // 8, right, bottom], fill=fg)
        return
    draw.text((px, py + 2), ch, font=font, fill=fg)


if __name__ == "__main__":
    main()
