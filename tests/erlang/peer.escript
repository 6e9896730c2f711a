#!/usr/bin/env escript
%% -*- erlang -*-
%%! -noinput +sbwt none +sbwtdcpu none +sbwtdio none
%%
%% The Erlang side of the interop tests and of BenchmarkVsErlang. One VM
%% serves a whole test run: it talks over stdin/stdout in packets with a
%% 4-byte big-endian length ({packet,4}). A packet is a sequence of fields,
%% each a 4-byte big-endian length and that many bytes; the first field of
%% a request names the command, the first of a reply says ok, fail, term
%% or error. Nothing here uses the codec under test to frame messages.
%%
%% Commands:
%%   gen Seed Count Flavor  -> Count packets: term Id ~w ~p ~tp Default V0 V1 V2 Compressed
%%                             Flavor full: every kind of term; bertjs: only
%%                             what the BERT-JS profile can carry (below).
%%   encode Text            -> ok Id Default V0 V1 V2 Compressed  (Text parsed by erl_parse)
%%   check Id Kind Data     -> ok | fail Reason
%%        Kind bin:    binary_to_term(Data) =:= term Id
%%        Kind text:   erl_parse:parse_term(Data) =:= term Id
%%        Kind bertjs: binary_to_term(Data) =:= bertjs(term Id)
%%   eqtext Bytes Text      -> ok | fail Reason   (binary_to_term(Bytes) =:= parsed Text)
%%   bench Op Bytes MinMillis -> ok WallNsPerOp CpuNsPerOp
%%                             Op: decode | encode | roundtrip, timing binary_to_term(Bytes),
%%                             term_to_binary of its term, or both in turn
%%   quit
%%
%% Run as "escript peer.escript fixtures" it prints the fixture file
%% bert/erltext/testdata/erlang/terms.txt instead.
-mode(compile).

main(["fixtures"]) ->
    fixtures();
main(_) ->
    Port = open_port({fd, 0, 1}, [binary, {packet, 4}, eof]),
    loop(Port, #{}, 1).

loop(Port, Terms, Next) ->
    receive
        {Port, {data, Packet}} ->
            [Cmd | Args] = fields(Packet),
            case handle(Cmd, Args, Port, Terms, Next) of
                stop -> ok;
                {Terms1, Next1} -> loop(Port, Terms1, Next1)
            end;
        {Port, eof} ->
            ok
    end.

fields(<<>>) -> [];
fields(<<Len:32, F:Len/binary, Rest/binary>>) -> [F | fields(Rest)].

reply(Port, Fields) ->
    true = port_command(Port, [[<<(iolist_size(F)):32>>, F] || F <- Fields]).

handle(<<"gen">>, [SeedB, CountB, FlavorB], Port, Terms, Next) ->
    Seed = binary_to_integer(SeedB),
    rand:seed(exsss, {Seed, Seed * 7 + 1, Seed * 13 + 5}),
    Flavor = binary_to_atom(FlavorB, utf8),
    lists:foldl(
      fun(_, {Ts, N}) ->
              T = gen(Flavor, 0),
              reply(Port, [<<"term">>, integer_to_binary(N) | describe(T)]),
              {Ts#{N => T}, N + 1}
      end, {Terms, Next}, lists:seq(1, binary_to_integer(CountB)));
handle(<<"encode">>, [Text], Port, Terms, Next) ->
    case parse(Text) of
        {ok, T} ->
            reply(Port, [<<"ok">>, integer_to_binary(Next) | tl(tl(tl(describe(T))))]),
            {Terms#{Next => T}, Next + 1};
        {error, Why} ->
            reply(Port, [<<"error">>, Why]),
            {Terms, Next}
    end;
handle(<<"check">>, [IdB, Kind, Data], Port, Terms, Next) ->
    T = maps:get(binary_to_integer(IdB), Terms),
    Result = try check(Kind, T, Data)
             catch C:E -> {fail, fmt("~p:~P", [C, E, 20])}
             end,
    reply(Port, case Result of ok -> [<<"ok">>]; {fail, W} -> [<<"fail">>, W] end),
    {Terms, Next};
handle(<<"eqtext">>, [Bytes, Text], Port, Terms, Next) ->
    Result = try
                 {ok, Want} = parse(Text),
                 compare(binary_to_term(Bytes), Want)
             catch C:E -> {fail, fmt("~p:~P", [C, E, 20])}
             end,
    reply(Port, case Result of ok -> [<<"ok">>]; {fail, W} -> [<<"fail">>, W] end),
    {Terms, Next};
handle(<<"bench">>, [Op, Bytes, MinMsB], Port, Terms, Next) ->
    MinNs = binary_to_integer(MinMsB) * 1000000,
    T = binary_to_term(Bytes),
    Loop = case Op of
               <<"decode">> -> fun(N) -> dec_loop(Bytes, N, 0) end;
               <<"encode">> -> fun(N) -> enc_loop(T, N, 0) end;
               <<"roundtrip">> -> fun(N) -> rt_loop(Bytes, N, 0) end
           end,
    {Wall, Cpu} = timeit(Loop, MinNs),
    reply(Port, [<<"ok">>, float_to_binary(Wall, [short]), float_to_binary(Cpu, [short])]),
    {Terms, Next};
handle(<<"quit">>, _, _Port, _Terms, _Next) ->
    stop.

%% describe returns the texts and the encodings of T that the Go side
%% decodes: ~w, ~p, ~tp, then term_to_binary with default options,
%% minor_version 0, 1 and 2, and compressed.
describe(T) ->
    [fmt("~w", [T]), fmt("~p", [T]), fmt("~tp", [T]),
     term_to_binary(T),
     term_to_binary(T, [{minor_version, 0}]),
     term_to_binary(T, [{minor_version, 1}]),
     term_to_binary(T, [{minor_version, 2}]),
     term_to_binary(T, [compressed])].

fmt(F, Args) ->
    unicode:characters_to_binary(io_lib:format(F, Args)).

parse(Text) ->
    case erl_scan:string(unicode:characters_to_list(Text) ++ " .") of
        {ok, Toks, _} ->
            case erl_parse:parse_term(Toks) of
                {ok, T} -> {ok, T};
                {error, E} -> {error, fmt("~p", [E])}
            end;
        E ->
            {error, fmt("~p", [E])}
    end.

check(<<"bin">>, T, Data) ->
    compare(binary_to_term(Data), T);
check(<<"text">>, T, Data) ->
    case parse(Data) of
        {ok, Got} -> compare(Got, T);
        {error, Why} -> {fail, Why}
    end;
check(<<"bertjs">>, T, Data) ->
    compare(binary_to_term(Data), bertjs(T)).

compare(Got, Want) when Got =:= Want -> ok;
compare(Got, Want) -> {fail, fmt("got  ~tP~nwant ~tP", [Got, 30, Want, 30])}.

%% bertjs is the term BERT-JS-profile bytes of T stand for: maps become
%% proplists in the order maps:to_list gives (the generator keeps maps of
%% this flavor small, where that is also their external-format order).
bertjs(M) when is_map(M) -> [{bertjs(K), bertjs(V)} || {K, V} <- maps:to_list(M)];
bertjs(T) when is_tuple(T) -> list_to_tuple(bertjs(tuple_to_list(T)));
bertjs([H | T]) -> [bertjs(H) | bertjs(T)];
bertjs(X) -> X.

%% timeit runs Loop(N) with N doubling until a run takes MinNs, and
%% returns the wall-clock and CPU nanoseconds per iteration of that run.
%% CPU time is the whole VM's; the schedulers do not busy-wait (see the
%% emulator flags above), so it is the loop's own time and its GC's.
timeit(Loop, MinNs) ->
    Loop(10),
    timeit(Loop, MinNs, 1).
timeit(Loop, MinNs, N) ->
    {Cpu0, _} = erlang:statistics(runtime),
    T0 = erlang:monotonic_time(nanosecond),
    Loop(N),
    Ns = erlang:monotonic_time(nanosecond) - T0,
    {Cpu1, _} = erlang:statistics(runtime),
    if
        Ns >= MinNs -> {Ns / N, (Cpu1 - Cpu0) * 1000000 / N};
        Ns =< 0 -> timeit(Loop, MinNs, N * 10);
        true -> timeit(Loop, MinNs, max(N * 2, min(N * 100, round(N * MinNs * 1.2 / Ns))))
    end.

%% The loops use each result so the compiler cannot drop the call.
dec_loop(_, 0, Acc) -> Acc;
dec_loop(B, N, Acc) ->
    case binary_to_term(B) of
        undefined -> dec_loop(B, N - 1, Acc + 1);
        _ -> dec_loop(B, N - 1, Acc)
    end.

rt_loop(_, 0, Acc) -> Acc;
rt_loop(B, N, Acc) ->
    rt_loop(B, N - 1, Acc + byte_size(term_to_binary(binary_to_term(B)))).

enc_loop(_, 0, Acc) -> Acc;
enc_loop(T, N, Acc) ->
    enc_loop(T, N - 1, Acc + byte_size(term_to_binary(T))).

%% The random term generator.

gen(Fl, D) when D >= 4 -> scalar(Fl);
gen(Fl, D) ->
    case rand:uniform(10) of
        N when N =< 4 -> scalar(Fl);
        5 -> tuple(Fl, D);
        6 -> tuple(Fl, D);
        7 -> list(Fl, D);
        8 -> improper(Fl, D);
        9 -> map(Fl, D);
        10 -> list(Fl, D)
    end.

upto(N) -> lists:seq(1, rand:uniform(N + 1) - 1).

tuple(Fl, D) ->
    case rand:uniform(12) of
        1 when Fl =/= small -> list_to_tuple([small_scalar(Fl) || _ <- lists:seq(1, 255 + rand:uniform(60))]);
        _ -> list_to_tuple([gen(Fl, D + 1) || _ <- upto(5)])
    end.

list(Fl, D) -> [gen(Fl, D + 1) || _ <- upto(5)].

improper(Fl, D) ->
    Tail = case rand:uniform(3) of
               1 -> atom(Fl);
               2 -> int();
               3 -> binary(Fl)
           end,
    lists:foldr(fun(E, Acc) -> [E | Acc] end, Tail, [gen(Fl, D + 1) || _ <- lists:seq(1, rand:uniform(4))]).

map(full, D) ->
    case rand:uniform(8) of
        1 -> maps:from_list([{small_scalar(full), small_scalar(full)} || _ <- lists:seq(1, 33 + rand:uniform(30))]);
        _ -> maps:from_list([{gen(full, D + 1), gen(full, D + 1)} || _ <- upto(5)])
    end;
map(Fl, D) ->
    maps:from_list([{gen(Fl, D + 1), gen(Fl, D + 1)} || _ <- upto(5)]).

scalar(Fl) ->
    case rand:uniform(9) of
        1 -> atom(Fl);
        2 -> atom(Fl);
        3 -> int();
        4 -> int();
        5 -> float();
        6 -> binary(Fl);
        7 -> string();
        8 -> bits(Fl);
        9 -> pick([[], {}, <<>>, 0])
    end.

%% small_scalar is a cheap scalar for the many elements of large tuples and maps.
small_scalar(Fl) ->
    case rand:uniform(4) of
        1 -> atom(Fl);
        2 -> rand:uniform(100000) - 50000;
        3 -> float();
        4 -> list_to_binary([$a + rand:uniform(26) - 1 || _ <- upto(8)])
    end.

pick(L) -> lists:nth(rand:uniform(length(L)), L).

atom(Fl) ->
    case rand:uniform(5) of
        1 -> pick(['ok', 'hello world', 'Caps', 'and', 'of', 'end', '', 'a\nb', 'it\'s', 'back\\slash',
                   'é', 'ßtraße', 'Ñu', 'true', 'false', 'nil', 'undefined', '_x', '@', 'a@b', 'x.y',
                   '\000', '\d', 'a b\tc']);
        2 -> list_to_atom([rand:uniform(256) - 1 || _ <- upto(12)]);
        3 when Fl =/= bertjs ->
            list_to_atom([pick([16#3b1, 16#65e5, 16#672c, 16#1F600, 16#410, 233, $a, $Z, 16#2028, 16#200b, 16#10FFFF, $\n])
                          || _ <- lists:seq(1, rand:uniform(8))]);
        _ -> list_to_atom([$a + rand:uniform(26) - 1 || _ <- lists:seq(1, rand:uniform(10))])
    end.

sign() -> pick([1, -1]).

int() ->
    case rand:uniform(8) of
        1 -> rand:uniform(256) - 1;
        2 -> -rand:uniform(1000);
        3 -> rand:uniform(1 bsl 31) - (1 bsl 30);
        4 -> sign() * ((1 bsl 31) + rand:uniform(1 bsl 32));
        5 -> sign() * rand:uniform(1 bsl 64);
        6 -> sign() * rand:uniform(1 bsl 200);
        7 -> sign() * ((1 bsl 2040) + rand:uniform(1 bsl 2100));
        8 -> pick([0, -1, 255, 256, -256, 134217727, 134217728, -134217728, -134217729,
                   2147483647, 2147483648, -2147483648, -2147483649,
                   9223372036854775807, 9223372036854775808, -9223372036854775808,
                   -9223372036854775809, 18446744073709551615, 18446744073709551616])
    end.

float() ->
    case rand:uniform(4) of
        1 -> pick([0.0, 1.0, -1.5, 1.0e-10, 100.0, 5.0e-324, 1.7976931348623157e308, 0.1,
                   2.2250738585072014e-308, 1.0e21, 123456789.0, 1.0e15, 0.0001, 1.2345e-5]);
        _ -> sign() * rand:uniform() * math:pow(10, rand:uniform(600) - 300)
    end.

binary(Fl) ->
    case rand:uniform(6) of
        5 when Fl =:= small -> <<"no large binaries in fixtures">>;
        1 -> <<>>;
        2 -> list_to_binary([$\s + rand:uniform(94) || _ <- upto(30)]);
        3 -> rand:bytes(rand:uniform(40));
        4 -> unicode:characters_to_binary([pick([$a, $\s, 233, 16#65e5, 16#1F600, $\n, 16#3b1]) || _ <- upto(12)]);
        5 -> rand:bytes(200 + rand:uniform(300));
        6 -> list_to_binary([pick("abc\"\\\n\t") || _ <- upto(10)])
    end.

string() ->
    case rand:uniform(5) of
        1 -> [$\s + rand:uniform(94) || _ <- upto(20)];
        2 -> [rand:uniform(256) - 1 || _ <- upto(20)];
        3 -> [pick([$a, 233, 16#65e5, 16#1F600, 256, 1000]) || _ <- upto(10)];
        4 -> "";
        5 -> [pick("ab\"\\\n\t'") || _ <- upto(10)]
    end.

bits(_Fl) ->
    Bits = rand:uniform(7),
    <<(rand:bytes(rand:uniform(5) - 1))/binary, (rand:uniform(1 bsl Bits) - 1):Bits>>.

%% fixtures prints a fixed set of terms in every encoding, one per line:
%%   Name<TAB>Form<TAB>hex bytes<TAB>~w text
fixtures() ->
    io:setopts([{encoding, unicode}]),
    io:format("# Generated by: escript tests/erlang/peer.escript fixtures > bert/erltext/testdata/erlang/terms.txt~n"),
    io:format("# Erlang/OTP ~s. Columns: name, term_to_binary options, hex bytes, io_lib:format(\"~~w\") text.~n",
              [erlang:system_info(otp_release)]),
    Forms = [{"default", []}, {"minor0", [{minor_version, 0}]}, {"minor1", [{minor_version, 1}]},
             {"minor2", [{minor_version, 2}]}, {"compressed", [compressed]}],
    rand:seed(exsss, {42, 43, 44}),
    Named = fixture_terms() ++ [{"random" ++ integer_to_list(I), gen(small, 0)} || I <- lists:seq(1, 30)],
    [[io:format("~s\t~s\t~s\t~ts~n", [Name, FN, binary:encode_hex(term_to_binary(T, Opts)), fmt("~w", [T])])
      || {FN, Opts} <- Forms]
     || {Name, T} <- Named],
    ok.

fixture_terms() ->
    [{"small_int", 42}, {"negative_int", -42}, {"int32", 2147483647}, {"small_big", 1 bsl 64},
     {"negative_big", -(1 bsl 100)}, {"large_big", 1 bsl 2100},
     {"float", 1.5}, {"float_tiny", 1.0e-10}, {"float_huge", 1.7976931348623157e308},
     {"atom", hello}, {"atom_quoted", 'hello world'}, {"atom_latin1", 'ßtraße'},
     {"atom_unicode", list_to_atom([16#65e5, 16#672c])}, {"atom_empty", ''},
     {"nil", []}, {"string", "hello"}, {"string_unicode", [16#65e5, $a]},
     {"binary", <<"hello">>}, {"binary_bytes", <<1, 2, 3>>}, {"bitstring", <<1, 2:3>>},
     {"tuple", {a, 1, <<"b">>}}, {"large_tuple", list_to_tuple(lists:seq(1, 300))},
     {"list", [a, 1, 2.5]}, {"improper", [a, b | c]}, {"map", #{a => 1, <<"b">> => [2]}},
     {"large_map", maps:from_list([{I, I * I} || I <- lists:seq(1, 40)])},
     {"bert_nil", {bert, nil}}, {"bert_true", {bert, true}}, {"bert_false", {bert, false}},
     {"bert_dict", {bert, dict, [{name, <<"Gandalf">>}, {level, 20}]}},
     {"bert_time", {bert, time, 1255, 295581, 446228}},
     {"bert_regex", {bert, regex, <<"^c(a*)t$">>, [caseless]}},
     {"sync_create", {sync, create, character, [{name, <<"Gandalf">>}, {level, 20}, {alive, {bert, true}}]}}].
