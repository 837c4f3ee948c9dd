package tokens

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"image"
	_ "image/gif" // register the decoders image.DecodeConfig needs
	_ "image/jpeg"
	_ "image/png"
	"io"
	"strings"
)

// imageRule is how a model bills an image.
type imageRule uint8

const (
	// imageUnknown: unknown family. Known size: the largest of the Gemini
	// rule, a Qwen-VL-like w×h/784 (capped at 16,384) and 6,404 (Llama 3.2
	// Vision, 4 tiles of 1,601). Unknown size: unknownImageTokens.
	imageUnknown imageRule = iota
	// imageAnthropic: ceil(w×h/750) after resizing the long edge to 1,568 px,
	// capped at 1,600, plus 12.5% (resize rounding, block framing). Unknown
	// size: 1,800.
	imageAnthropic
	// imageGemini: 258 when both sides are ≤ 384 px, else 258 per crop unit,
	// the unit being min(w,h)/1.5 clamped to [256, 768]; at least 1,120
	// (Gemini 3's default high media resolution). Unknown size:
	// unknownImageTokens.
	imageGemini
	// imageOpenAITile: 85 + 170 per 512 px tile after fitting into 2048² and
	// scaling the short side down to 768 (gpt-4o, gpt-4.1, gpt-4.5, gpt-5,
	// o1, o3: their base/tile figures are at most 85/170). detail=low: 85.
	// Unknown size: 8 tiles, 1,445.
	imageOpenAITile
	// imageOpenAIMiniTile: gpt-4o-mini bills 2,833 + 5,667 per tile (low:
	// 2,833; unknown size: 48,169).
	imageOpenAIMiniTile
	// imageOpenAIPatch*: 32 px patches capped at 1,536, times 1.62
	// (gpt-4.1-mini, gpt-5-mini), 1.72 (o4-mini) or 2.46 (nano and any other
	// mini). detail is ignored. Unknown size: 1,536 × multiplier.
	imageOpenAIPatch162
	imageOpenAIPatch172
	imageOpenAIPatch246
	// imageOpenAIUnknown: any other OpenAI-family model: the larger of the
	// tile rule and the 2.46 patch rule.
	imageOpenAIUnknown
)

const (
	// unknownImageTokens is charged for an image of unknown size when the
	// model has no documented cap (Gemini, unknown families). It covers a
	// Gemini image of about 6,000×6,000 px and Qwen-VL's 16,384 maximum.
	unknownImageTokens = 20_000
	// maxImageDim clamps decoded dimensions (headers can claim anything).
	maxImageDim = 1 << 15
	// dataURLPrefix is how much of a data: URL's payload is decoded to find
	// the image's size before decoding it all (a JPEG's SOF usually follows
	// an EXIF segment of at most 64 KiB).
	dataURLPrefix = 96 << 10
)

func openAIImageRule(name []byte) imageRule {
	has := func(s string) bool { return bytes.Contains(name, []byte(s)) }
	pre := func(s string) bool { return bytes.HasPrefix(name, []byte(s)) }
	switch {
	case has("4o-mini"):
		return imageOpenAIMiniTile
	case has("4.1-mini"), has("5-mini"):
		return imageOpenAIPatch162
	case has("o4-mini"), pre("codex-mini"):
		return imageOpenAIPatch172
	case has("-nano"), has("-mini"):
		return imageOpenAIPatch246
	case pre("gpt-4o"), pre("chatgpt-4o"), pre("gpt-4.1"), pre("gpt-4.5"), pre("gpt-5"),
		pre("o1"), pre("o3"), pre("gpt-4"):
		return imageOpenAITile
	}
	return imageOpenAIUnknown
}

func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }

// imageTokens is the token bound of one image. known says whether w and h
// are known; low is OpenAI's detail=low.
func imageTokens(rule imageRule, w, h int, known, low bool) int64 {
	if known {
		w, h = min(max(w, 1), maxImageDim), min(max(h, 1), maxImageDim)
	}
	W, H := int64(w), int64(h)
	switch rule {
	case imageAnthropic:
		if !known {
			return 1_800
		}
		if long := max(W, H); long > 1568 {
			W, H = ceilDiv(W*1568, long), ceilDiv(H*1568, long)
		}
		return min(ceilDiv(W*H, 750), 1_600) * 9 / 8
	case imageGemini:
		if !known {
			return unknownImageTokens
		}
		return geminiImage(W, H)
	case imageOpenAITile:
		return openAITiles(85, 170, W, H, known, low)
	case imageOpenAIMiniTile:
		return openAITiles(2_833, 5_667, W, H, known, low)
	case imageOpenAIPatch162:
		return openAIPatches(162, W, H, known)
	case imageOpenAIPatch172:
		return openAIPatches(172, W, H, known)
	case imageOpenAIPatch246:
		return openAIPatches(246, W, H, known)
	case imageOpenAIUnknown:
		return max(openAITiles(85, 170, W, H, known, false), openAIPatches(246, W, H, known))
	default:
		if !known {
			return unknownImageTokens
		}
		return max(geminiImage(W, H), min(ceilDiv(W*H, 784), 16_384), 6_404)
	}
}

func geminiImage(w, h int64) int64 {
	if w <= 384 && h <= 384 {
		return 1_120
	}
	unit := min(max(min(w, h)*2/3, 256), 768)
	return max(258*ceilDiv(w, unit)*ceilDiv(h, unit), 1_120)
}

func openAITiles(base, perTile, w, h int64, known, low bool) int64 {
	switch {
	case low:
		return base
	case !known:
		return base + perTile*8
	}
	if long := max(w, h); long > 2048 {
		w, h = ceilDiv(w*2048, long), ceilDiv(h*2048, long)
	}
	if short := min(w, h); short > 768 {
		w, h = ceilDiv(w*768, short), ceilDiv(h*768, short)
	}
	return base + perTile*ceilDiv(w, 512)*ceilDiv(h, 512)
}

func openAIPatches(mult100, w, h int64, known bool) int64 {
	patches := int64(1_536)
	if known {
		patches = min(ceilDiv(w, 32)*ceilDiv(h, 32), 1_536)
	}
	return ceilDiv(patches*mult100, 100)
}

// imageSize reads an image's dimensions from its header: PNG, JPEG and GIF
// through image.DecodeConfig, WebP by hand.
func imageSize(r io.Reader) (w, h int, ok bool) {
	br := bufio.NewReaderSize(r, 512)
	if hdr, _ := br.Peek(30); len(hdr) >= 30 && string(hdr[:4]) == "RIFF" && string(hdr[8:12]) == "WEBP" {
		return webpSize(hdr)
	}
	cfg, _, err := image.DecodeConfig(br)
	if err != nil || cfg.Width <= 0 || cfg.Height <= 0 {
		return 0, 0, false
	}
	return cfg.Width, cfg.Height, true
}

// webpSize parses the first 30 bytes of a WebP file (RFC 9649).
func webpSize(b []byte) (w, h int, ok bool) {
	le24 := func(p []byte) int { return int(p[0]) | int(p[1])<<8 | int(p[2])<<16 }
	switch string(b[12:16]) {
	case "VP8X":
		return le24(b[24:]) + 1, le24(b[27:]) + 1, true
	case "VP8L":
		if b[20] != 0x2f {
			return 0, 0, false
		}
		v := binary.LittleEndian.Uint32(b[21:25])
		return int(v&0x3fff) + 1, int(v>>14&0x3fff) + 1, true
	case "VP8 ":
		if b[23] != 0x9d || b[24] != 0x01 || b[25] != 0x2a {
			return 0, 0, false
		}
		return int(binary.LittleEndian.Uint16(b[26:]) & 0x3fff), int(binary.LittleEndian.Uint16(b[28:]) & 0x3fff), true
	}
	return 0, 0, false
}

// isImage reports whether a MIME type or the data's magic bytes say image.
func isImage(mime string, data []byte) bool {
	if hasPrefixFoldStr(mime, "image/") {
		return true
	}
	if mime != "" && !hasPrefixFoldStr(mime, "application/octet-stream") {
		return false
	}
	return bytes.HasPrefix(data, []byte("\x89PNG")) || bytes.HasPrefix(data, []byte("\xff\xd8\xff")) ||
		bytes.HasPrefix(data, []byte("GIF8")) ||
		(len(data) >= 12 && string(data[:4]) == "RIFF" && string(data[8:12]) == "WEBP")
}

func hasPrefixFoldStr(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// dataURL splits a data: URL into its MIME type and payload. ok is false for
// anything else (http URLs, file IDs).
func dataURL(u string) (mime, payload string, b64, ok bool) {
	if !hasPrefixFoldStr(u, "data:") {
		return "", "", false, false
	}
	meta, payload, found := strings.Cut(u[len("data:"):], ",")
	if !found {
		return "", "", false, false
	}
	mime, params, _ := strings.Cut(meta, ";")
	return mime, payload, strings.Contains(strings.ToLower(params), "base64"), true
}

// dataURLImageSize decodes the size of a base64 data: URL's image, first
// from a prefix of the payload, then from all of it.
func dataURLImageSize(payload string) (w, h int, ok bool) {
	prefix := payload
	if len(prefix) > dataURLPrefix {
		prefix = prefix[:dataURLPrefix&^3]
	}
	if w, h, ok = imageSize(base64.NewDecoder(base64.StdEncoding, strings.NewReader(prefix))); ok || len(prefix) == len(payload) {
		return w, h, ok
	}
	return imageSize(base64.NewDecoder(base64.StdEncoding, strings.NewReader(payload)))
}
