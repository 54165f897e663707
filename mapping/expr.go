package mapping

import (
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
)

// Bounds on expressions. An expression is compiled once, when the mapping
// is parsed, against a fixed environment (doc and line) so that unknown
// names are refused then; at run time the VM's memory budget bounds what
// ranges, lists, maps and loops over them may allocate, which also bounds
// how many loop iterations an expression can run.
const (
	maxExprLen        = 2000
	maxExprNodes      = 300
	exprMemoryBudget  = 100_000
	exprErrorMaxBytes = 200
)

// exprEnv is the environment every expression sees: doc is the whole
// source document and line the current line (nil outside lines). Numbers
// in them are int when whole and float64 otherwise, so that comparisons
// such as doc.total > 100 work; money and quantities are read exactly
// through paths, not through expressions.
type exprEnv struct {
	Doc  any `expr:"doc"`
	Line any `expr:"line"`
}

// disabledBuiltins are expression functions a mapping may not call: now
// would make a mapping's result depend on when it ran (and an unchanged
// document must map to an unchanged result), and repeat can allocate far
// beyond the memory budget in one call.
var disabledBuiltins = [...]string{"now", "repeat"}

// program is a compiled expression.
type program struct {
	prog *vm.Program
}

// compileExpr compiles src; asBool makes a non-boolean result a compile
// error. The returned *file.Error, when there is one, locates the problem
// inside src.
func compileExpr(src string, asBool bool) (p *program, err error) {
	if len(src) > maxExprLen {
		return nil, errors.New("is longer than " + strconv.Itoa(maxExprLen) + " bytes")
	}
	if strings.TrimSpace(src) == "" {
		return nil, errors.New("is empty")
	}
	opts := make([]expr.Option, 0, 4+len(disabledBuiltins))
	opts = append(opts, expr.Env(exprEnv{}), expr.MaxNodes(maxExprNodes))
	for _, name := range disabledBuiltins {
		opts = append(opts, expr.DisableBuiltin(name))
	}
	if asBool {
		opts = append(opts, expr.AsBool())
	}
	// The compiler is made for untrusted input, but a mapping is parsed in
	// a request handler: a compiler bug must refuse the mapping, not crash.
	defer func() {
		if r := recover(); r != nil {
			p, err = nil, errors.New("could not be compiled")
		}
	}()
	prog, err := expr.Compile(src, opts...)
	if err != nil {
		return nil, err
	}
	return &program{prog: prog}, nil
}

// exprMessage is the compiler's message without its source snippet (the
// error's line and column point there already), kept short.
func exprMessage(err error) string {
	msg := err.Error()
	var fe *file.Error
	if errors.As(err, &fe) {
		msg = fe.Message
	}
	return truncate(msg, exprErrorMaxBytes)
}

// vmPool recycles expression VMs, whose stacks would otherwise be
// allocated on every run.
type vmPool struct{ pool sync.Pool }

func (p *vmPool) run(prog *program, env exprEnv) (out any, err error) {
	v, _ := p.pool.Get().(*vm.VM)
	if v == nil {
		v = &vm.VM{MemoryBudget: exprMemoryBudget}
	}
	out, err = v.Run(prog.prog, env)
	p.pool.Put(v)
	return out, err
}

// exprView returns v as expressions see it: json.Number becomes int when
// whole and in range, float64 otherwise; objects and lists are copied with
// their members converted.
func exprView(v any) any {
	switch v := v.(type) {
	case json.Number:
		if i, err := strconv.Atoi(string(v)); err == nil {
			return i
		}
		if f, err := strconv.ParseFloat(string(v), 64); err == nil {
			return f
		}
		return string(v)
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = exprView(x)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = exprView(x)
		}
		return out
	}
	return v
}

// fromExpr turns an expression's result into a value.
func fromExpr(r any) (val, string) {
	switch r := r.(type) {
	case nil:
		return val{}, ""
	case string:
		return val{k: vString, s: r}, ""
	case bool:
		return val{k: vBool, b: r}, ""
	case int:
		return val{k: vNumber, s: strconv.Itoa(r)}, ""
	case int64:
		return val{k: vNumber, s: strconv.FormatInt(r, 10)}, ""
	case float64:
		if math.IsInf(r, 0) || math.IsNaN(r) {
			return val{}, "expression returned " + strconv.FormatFloat(r, 'g', -1, 64) + ", not a number"
		}
		return val{k: vNumber, s: strconv.FormatFloat(r, 'f', -1, 64)}, ""
	case json.Number:
		return val{k: vNumber, s: string(r)}, ""
	case time.Time:
		return val{k: vTime, t: r}, ""
	case map[string]any:
		return val{k: vObject, x: r}, ""
	case []any:
		return val{k: vArray, x: r}, ""
	}
	v := fromJSON(r)
	if v.k == vBad {
		return val{}, "expression returned an unsupported value"
	}
	return v, ""
}
