package lookup

import (
	"errors"
	"strings"
	"testing"
)

func TestDecodeJSONRecord(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, in string
		want     map[string]string
		err      string // part of the error, "" for none
	}{
		{name: "scalars keep their text",
			in: `{"s":"gold","n":1.50,"big":12345678901234567890,"t":true,"f":false}`,
			want: map[string]string{"s": "gold", "n": "1.50", "big": "12345678901234567890",
				"t": "true", "f": "false"}},
		{name: "escapes decoded", in: `{"s":"O\"Brien \u00e9\n"}`,
			want: map[string]string{"s": "O\"Brien é\n"}},
		{name: "null and empty are absent", in: `{"a":null,"b":""}`,
			want: map[string]string{}},
		{name: "list of scalars joined", in: `{"l":["vip",2,true]}`,
			want: map[string]string{"l": "vip,2,true"}},
		{name: "object field", in: `{"o":{"x":1}}`, err: `field "o": holds an object`},
		{name: "list of objects", in: `{"l":[{"x":1}]}`, err: `field "l": holds a list`},
		{name: "not an object", in: `["a"]`, err: "JSON array where an object"},
		{name: "truncated", in: `{"a":"+1415555`, err: "malformed JSON"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeJSONRecord([]byte(tt.in), nil)
			if tt.err != "" {
				var bad *badRecordError
				if !errors.As(err, &bad) || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want a bad record saying %q", err, tt.err)
				}
				if strings.Contains(err.Error(), phoneDigit) {
					t.Errorf("error %q quotes the data", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if d := diffMaps(tt.want, got); d != "" {
				t.Errorf("record (-want +got):\n%s", d)
			}
		})
	}
}
