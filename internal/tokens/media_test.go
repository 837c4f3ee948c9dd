package tokens

import (
	"bytes"
	"encoding/binary"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/tmc/langchaingo/llms"
)

func isoBoxBytes(typ string, payload ...[]byte) []byte {
	body := bytes.Join(payload, nil)
	b := binary.BigEndian.AppendUint32(nil, uint32(8+len(body)))
	return append(append(b, typ...), body...)
}

// mp4 is a minimal ISO base-media file whose movie header declares dur ticks
// of 1/scale s (version 1 when v1).
func mp4(scale uint32, dur uint64, v1 bool, mdat int) []byte {
	var mvhd []byte
	if v1 {
		mvhd = append([]byte{1, 0, 0, 0}, make([]byte, 16)...)
		mvhd = binary.BigEndian.AppendUint32(mvhd, scale)
		mvhd = binary.BigEndian.AppendUint64(mvhd, dur)
	} else {
		mvhd = append([]byte{0, 0, 0, 0}, make([]byte, 8)...)
		mvhd = binary.BigEndian.AppendUint32(mvhd, scale)
		mvhd = binary.BigEndian.AppendUint32(mvhd, uint32(dur))
	}
	mvhd = append(mvhd, make([]byte, 80)...) // rate, volume, matrix, …
	return bytes.Join([][]byte{
		isoBoxBytes("ftyp", []byte("isom\x00\x00\x02\x00isomiso2mp41")),
		isoBoxBytes("mdat", make([]byte, mdat)),
		isoBoxBytes("moov", isoBoxBytes("mvhd", mvhd), isoBoxBytes("trak", make([]byte, 40))),
	}, nil)
}

func ebml(id uint32, payload []byte) []byte {
	var b []byte
	switch {
	case id > 0xFFFFFF:
		b = binary.BigEndian.AppendUint32(nil, id)
	case id > 0xFFFF:
		b = []byte{byte(id >> 16), byte(id >> 8), byte(id)}
	case id > 0xFF:
		b = []byte{byte(id >> 8), byte(id)}
	default:
		b = []byte{byte(id)}
	}
	b = append(b, 0x08) // 8-byte size
	b = binary.BigEndian.AppendUint64(b[:len(b)-1], uint64(len(payload))|0x01<<56)
	return append(b, payload...)
}

// webm is a minimal Matroska file whose segment info declares ms
// milliseconds (a float64 Duration at the default timecode scale).
func webm(ms float64, unknownSegmentSize bool) []byte {
	header := ebml(0x1A45DFA3, ebml(0x4282, []byte("webm")))
	dur := binary.BigEndian.AppendUint64(nil, math.Float64bits(ms))
	info := ebml(mkvInfo, append(ebml(mkvTimecodeScale, []byte{0x0F, 0x42, 0x40}), ebml(mkvDuration, dur)...))
	body := append(ebml(0x114D9B74, make([]byte, 12)), info...) // SeekHead, Info
	seg := ebml(mkvSegment, body)
	if unknownSegmentSize {
		seg = append([]byte{0x18, 0x53, 0x80, 0x67, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}, body...)
	}
	return append(header, seg...)
}

func TestMediaSeconds(t *testing.T) {
	for name, tc := range map[string]struct {
		data []byte
		secs float64
		ok   bool
	}{
		"mp4 v0":                 {mp4(600, 600*3600, false, 1000), 3600, true},
		"mp4 v1":                 {mp4(90000, 90000*125, true, 10), 125, true},
		"mp4 unknown duration":   {mp4(600, math.MaxUint32, false, 10), 0, false},
		"mp4 zero timescale":     {mp4(0, 100, false, 10), 0, false},
		"mp4 truncated":          {mp4(600, 6000, false, 10)[:60], 0, false},
		"webm":                   {webm(90_500, false), 90.5, true},
		"webm live (size unset)": {webm(2_000, true), 2, true},
		"webm negative":          {webm(-5, false), 0, false},
		"webm NaN":               {webm(math.NaN(), false), 0, false},
		"not media":              {[]byte("hello world, no header"), 0, false},
		"empty":                  {nil, 0, false},
	} {
		secs, ok := mediaSeconds(tc.data)
		assert.Equal(t, tc.ok, ok, name)
		assert.InDelta(t, tc.secs, secs, 1e-9, name)
	}
}

// A still video compresses an hour into little: its bound is its length.
func TestBoundVideoByLength(t *testing.T) {
	c := NewCounter()
	bound := func(model string, p llms.ContentPart) int64 {
		return c.Bound(model, []llms.MessageContent{human(p)}, nil) - (requestOverhead + messageOverhead + partOverhead)
	}
	hour := mp4(600, 600*3600, false, 100_000) // an hour in 100 KB
	got := bound("gemini-2.5-flash", llms.BinaryPart("video/mp4", hour))
	assert.Equal(t, int64(binaryOverhead+3600*mediaVideoTokensPerSecond), got)

	// A dense video: its bytes are more.
	short := mp4(600, 600*2, false, 2_000_000)
	assert.Equal(t, int64(binaryOverhead+len(short)), bound("gemini-2.5-flash", llms.BinaryPart("video/mp4", short)))

	// A video whose length cannot be read is taken as an hour long.
	raw := bytes.Repeat([]byte{7}, 5000)
	assert.Equal(t, int64(binaryOverhead+mediaUnknownSeconds*mediaVideoTokensPerSecond),
		bound("gemini-2.5-flash", llms.BinaryPart("video/quicktime", raw)))

	// WebM, declared ten minutes.
	assert.Equal(t, int64(binaryOverhead+600*mediaVideoTokensPerSecond),
		bound("gemini-2.5-flash", llms.BinaryPart("video/webm", webm(600_000, false))))

	// Audio: 32 a second when that beats its bytes; else its bytes.
	m4a := mp4(44100, 44100*3600, false, 50_000)
	assert.Equal(t, int64(binaryOverhead+3600*mediaAudioTokensPerSecond), bound("gemini-2.5-flash", llms.BinaryPart("audio/mp4", m4a)))
	assert.Equal(t, int64(binaryOverhead+5000), bound("gemini-2.5-flash", llms.BinaryPart("audio/mpeg", make([]byte, 5000))))
}

func FuzzMediaSeconds(f *testing.F) {
	f.Add(mp4(600, 6000, false, 10))
	f.Add(mp4(90000, 1<<40, true, 10))
	f.Add(webm(1234.5, false))
	f.Add(webm(1, true))
	f.Add([]byte{0x1A, 0x45, 0xDF, 0xA3, 0x01, 0xFF})
	f.Add([]byte{0, 0, 0, 1, 'f', 't', 'y', 'p', 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF})
	f.Fuzz(func(t *testing.T, data []byte) {
		secs, ok := mediaSeconds(data)
		if ok && (math.IsNaN(secs) || math.IsInf(secs, 0) || secs <= 0) {
			t.Fatalf("mediaSeconds = %v, true", secs)
		}
		for _, mime := range []string{"video/mp4", "audio/webm"} {
			n, isMedia := mediaTokens(mime, data)
			if !isMedia || n < int64(len(data)) {
				t.Fatalf("mediaTokens(%s) = %d, %v: below the bytes (%d)", mime, n, isMedia, len(data))
			}
		}
	})
}
