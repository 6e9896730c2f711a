#!/usr/bin/env escript
%% Regenerates the files in this directory: the same terms written by
%% term_to_binary in four ways, one file per way, terms back to back.
%% Run from this directory: escript gen.escript
main(_) ->
    Big = lists:seq(1, 40),
    Terms = [
        0, 1, 255, 256, -1, -256, 2147483647, -2147483648, 2147483648,
        -2147483649, 9223372036854775807, -9223372036854775808,
        9223372036854775808, 18446744073709551615, -18446744073709551616,
        123456789012345678901234567890123456789012345678901234567890,
        -(1 bsl 2100),
        0.0, -0.0, 1.5, -3.14159, 1.0e-300, 1.7976931348623157e308, 5.0e-324,
        123456.789,
        a, 'Hello World', '', true, false, nil, bert, 'ατομο', 'café',
        list_to_atom(lists:duplicate(255, $x)),
        list_to_atom(lists:duplicate(200, 16#3b1)),
        {}, {a}, {a, b}, list_to_tuple(lists:seq(1, 256)),
        [], [a], [a, b | c], [1, 2, 3], "hello", [256, 1], [-1],
        lists:duplicate(70000, 7), lists:seq(1, 300),
        <<>>, <<"binary">>, <<1:1>>, <<255, 7:3>>, binary:copy(<<"x">>, 70000),
        #{}, #{a => 1}, #{b => 2, a => 1, <<"k">> => [v], 1 => 2.5},
        maps:from_list([{K, K * K} || K <- Big]),
        {bert, nil}, {bert, true}, {bert, false},
        {bert, dict, [{name, <<"Tom">>}, {age, 30}]}, {bert, dict, []},
        {bert, time, 1255, 295581, 446228}, {bert, regex, <<"^c(a*)t$">>, [caseless]},
        {bert, other}, {bert, dict, not_a_list}, {bert, time, 1, 2},
        {sync, create, character, [{name, <<"Frodo">>}, {race, hobbit}, {level, 7},
                                   {hp, 12.5}, {alive, {bert, true}}]},
        [{a, [{b, [{c, {d, [e | f]}}]}]}]
    ],
    Forms = [{"mv2.bert", [{minor_version, 2}]},
             {"mv1.bert", [{minor_version, 1}]},
             {"mv0.bert", [{minor_version, 0}]},
             {"compressed.bert", [compressed, {minor_version, 2}]}],
    [ok = file:write_file(F, [term_to_binary(T, Opts) || T <- Terms]) || {F, Opts} <- Forms],
    ok.
