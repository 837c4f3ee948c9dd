package tokens

import (
	"encoding/binary"
	"math"
	"strings"
)

// Time-based media. Gemini bills video by its length, not its bytes: 263
// tokens a second (258 per frame sampled at 1 fps, plus 32 for the audio
// track, rounded up here), audio 32 a second. A still or slow video
// compresses to far fewer bytes than that (a slideshow can hold an hour in
// 100 KB), so a video's bound is its bytes or its declared length at
// mediaVideoTokensPerSecond, whichever is more, and a video whose length
// cannot be read is bounded as mediaUnknownSeconds long.
const (
	mediaVideoTokensPerSecond = 300
	mediaAudioTokensPerSecond = 32
	// mediaUnknownSeconds is the length assumed for a video whose container
	// does not say: an hour, about the longest video Gemini takes in.
	mediaUnknownSeconds = 3600
	// maxMediaBoxes bounds the walk of a container's boxes or elements.
	maxMediaBoxes = 4096
)

// mediaKind tells video from audio, by MIME type.
func mediaKind(mime string) (video, audio bool) {
	m := strings.ToLower(strings.TrimSpace(mime))
	return strings.HasPrefix(m, "video/"), strings.HasPrefix(m, "audio/")
}

// mediaTokens bounds a video or audio part: its bytes, or its length at the
// per-second rate when that is more. ok is false for other parts.
func mediaTokens(mime string, data []byte) (n int64, ok bool) {
	video, audio := mediaKind(mime)
	if !video && !audio {
		return 0, false
	}
	n = int64(len(data))
	secs, known := mediaSeconds(data)
	rate := int64(mediaAudioTokensPerSecond)
	if video {
		rate = mediaVideoTokensPerSecond
		if !known {
			secs, known = mediaUnknownSeconds, true
		}
	}
	if known {
		n = max(n, saturate(math.Ceil(secs)*float64(rate)))
	}
	return n, true
}

// saturate converts a non-negative token count to int64, MaxInt64 when it
// does not fit.
func saturate(x float64) int64 {
	if x >= math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(x)
}

// mediaSeconds reads the declared length of an ISO base-media file (MP4, MOV,
// M4A, 3GP: the movie header) or a Matroska/WebM file (the segment info's
// duration). ok is false when there is none, or it is not a finite positive
// number.
func mediaSeconds(data []byte) (secs float64, ok bool) {
	switch {
	case len(data) >= 4 && binary.BigEndian.Uint32(data) == 0x1A45DFA3:
		secs, ok = matroskaSeconds(data)
	case len(data) >= 8 && string(data[4:8]) == "ftyp", len(data) >= 8 && string(data[4:8]) == "moov":
		secs, ok = isoSeconds(data)
	}
	if !ok || math.IsNaN(secs) || math.IsInf(secs, 0) || secs <= 0 {
		return 0, false
	}
	return secs, true
}

// isoSeconds finds moov/mvhd and returns duration/timescale.
func isoSeconds(data []byte) (float64, bool) {
	moov, ok := isoBox(data, "moov")
	if !ok {
		return 0, false
	}
	mvhd, ok := isoBox(moov, "mvhd")
	if !ok || len(mvhd) < 4 {
		return 0, false
	}
	var scale uint32
	var dur uint64
	switch mvhd[0] { // version
	case 0:
		if len(mvhd) < 20 {
			return 0, false
		}
		scale, dur = binary.BigEndian.Uint32(mvhd[12:]), uint64(binary.BigEndian.Uint32(mvhd[16:]))
		if dur == math.MaxUint32 {
			return 0, false // "unknown"
		}
	case 1:
		if len(mvhd) < 32 {
			return 0, false
		}
		scale, dur = binary.BigEndian.Uint32(mvhd[20:]), binary.BigEndian.Uint64(mvhd[24:])
		if dur == math.MaxUint64 {
			return 0, false
		}
	default:
		return 0, false
	}
	if scale == 0 {
		return 0, false
	}
	return float64(dur) / float64(scale), true
}

// isoBox returns the payload of the first box of type typ among the boxes
// that make up data.
func isoBox(data []byte, typ string) ([]byte, bool) {
	for i := 0; i < maxMediaBoxes && len(data) >= 8; i++ {
		size := uint64(binary.BigEndian.Uint32(data))
		hdr := uint64(8)
		switch size {
		case 0:
			size = uint64(len(data)) // to the end
		case 1:
			if len(data) < 16 {
				return nil, false
			}
			size, hdr = binary.BigEndian.Uint64(data[8:]), 16
		}
		if size < hdr {
			return nil, false
		}
		end := min(size, uint64(len(data))) // a truncated last box is read as far as it goes
		if string(data[4:8]) == typ {
			return data[hdr:end], true
		}
		if size >= uint64(len(data)) {
			return nil, false
		}
		data = data[size:]
	}
	return nil, false
}

// Matroska element IDs.
const (
	mkvSegment       = 0x18538067
	mkvInfo          = 0x1549A966
	mkvTimecodeScale = 0x2AD7B1
	mkvDuration      = 0x4489
)

// matroskaSeconds reads Segment/Info/Duration × TimecodeScale (default 1 ms).
func matroskaSeconds(data []byte) (float64, bool) {
	seg, ok := ebmlChild(data, mkvSegment)
	if !ok {
		return 0, false
	}
	info, ok := ebmlChild(seg, mkvInfo)
	if !ok {
		return 0, false
	}
	scale := uint64(1_000_000) // nanoseconds per tick
	if b, ok := ebmlChild(info, mkvTimecodeScale); ok && len(b) >= 1 && len(b) <= 8 {
		var v uint64
		for _, c := range b {
			v = v<<8 | uint64(c)
		}
		if v > 0 {
			scale = v
		}
	}
	b, ok := ebmlChild(info, mkvDuration)
	if !ok {
		return 0, false
	}
	var ticks float64
	switch len(b) {
	case 4:
		ticks = float64(math.Float32frombits(binary.BigEndian.Uint32(b)))
	case 8:
		ticks = math.Float64frombits(binary.BigEndian.Uint64(b))
	default:
		return 0, false
	}
	return ticks * float64(scale) / 1e9, true
}

// ebmlChild returns the payload of the first element with the given ID among
// the elements that make up data. An element of unknown size (live streams)
// runs to the end of data.
func ebmlChild(data []byte, id uint32) ([]byte, bool) {
	for i := 0; i < maxMediaBoxes && len(data) > 0; i++ {
		eid, n := ebmlID(data)
		if n == 0 {
			return nil, false
		}
		data = data[n:]
		size, m, unknown := ebmlSize(data)
		if m == 0 {
			return nil, false
		}
		data = data[m:]
		if unknown || size > uint64(len(data)) {
			size = uint64(len(data))
		}
		if eid == id {
			return data[:size], true
		}
		data = data[size:]
	}
	return nil, false
}

// ebmlID reads an element ID (1–4 bytes, marker bits kept).
func ebmlID(b []byte) (uint32, int) {
	if len(b) == 0 || b[0] == 0 {
		return 0, 0
	}
	n := 1
	for mask := byte(0x80); b[0]&mask == 0; mask >>= 1 {
		n++
	}
	if n > 4 || len(b) < n {
		return 0, 0
	}
	var v uint32
	for _, c := range b[:n] {
		v = v<<8 | uint32(c)
	}
	return v, n
}

// ebmlSize reads an element size (1–8 bytes, marker bit cleared); all ones
// means unknown.
func ebmlSize(b []byte) (size uint64, n int, unknown bool) {
	if len(b) == 0 || b[0] == 0 {
		return 0, 0, false
	}
	n = 1
	mask := byte(0x80)
	for ; b[0]&mask == 0; mask >>= 1 {
		n++
	}
	if len(b) < n {
		return 0, 0, false
	}
	size = uint64(b[0] & (mask - 1))
	all := size == uint64(mask-1)
	for _, c := range b[1:n] {
		size = size<<8 | uint64(c)
		all = all && c == 0xFF
	}
	return size, n, all
}
