#!/usr/bin/env escript
%% -*- erlang -*-
%%! -noshell
%%
%% peer.escript is an Erlang client of a bertsync server over a raw socket:
%% the WebSocket protocol (RFC 6455) by hand on gen_tcp (handshake with the
%% Sec-WebSocket-Accept check, masked client frames, fragmented and control
%% frames) and BERT with term_to_binary/binary_to_term. It runs a create,
%% read, subscribe, push, broadcast and error exchange on two connections,
%% checks every reply, and exits 0 on success, 1 on the first mismatch.
%%
%% It needs only erlang-base: SHA-1 for the handshake is written out below
%% because the crypto application is a separate Debian package.
%%
%% usage: peer.escript HOST PORT [PATH]
-mode(compile).

-define(GUID, <<"258EAFA5-E914-47DA-95CA-C5AB0DC85B11">>).
-define(TIMEOUT, 10000).

main([Host, Port]) ->
    main([Host, Port, "/bullet"]);
main([Host, PortText, Path]) ->
    try run(Host, list_to_integer(PortText), Path) of
        ok ->
            io:format("erlang peer: all checks passed~n"),
            halt(0)
    catch
        Class:Reason:Stack ->
            io:format(standard_error, "erlang peer: FAILED ~p:~p~n~p~n", [Class, Reason, Stack]),
            halt(1)
    end;
main(_) ->
    io:format(standard_error, "usage: peer.escript HOST PORT [PATH]~n", []),
    halt(2).

%% The exchange.

run(Host, Port, Path) ->
    case sha1(<<"abc">>) of
        <<16#a9993e36:32, 16#4706816a:32, 16#ba3e2571:32, 16#7850c26c:32, 16#9cd0d89d:32>> -> ok;
        Other -> error({sha1_self_test, Other})
    end,
    %% The example of RFC 6455 section 1.3.
    <<"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=">> = base64:encode(sha1(<<"dGhlIHNhbXBsZSBub25jZQ==", ?GUID/binary>>)),
    A = connect(Host, Port, Path),
    B = connect(Host, Port, Path),
    Model = erlang_character,

    %% B subscribes (the reply is the stream's position, DESIGN 5); A
    %% creates with a ref of its own.
    {sync, ok, [{seq, Top0}, {epoch, Epoch}]} = call(B, {sync, subscribe, Model, []}),
    true = is_integer(Top0) andalso is_binary(Epoch),
    Name = <<"Gandalf the Grey ", 16#2713/utf8>>,
    {sync, ok, Created, {peer, 1}} =
        call(A, {sync, create, Model, [{name, Name}, {level, 20}, {pi, 3.14159}, {tags, [wizard, <<"istar">>]}], {peer, 1}}),
    Id = prop(id, Created),
    true = is_binary(Id) andalso byte_size(Id) > 0,
    Name = prop(name, Created),
    20 = prop(level, Created),
    3.14159 = prop(pi, Created),
    {sync, created, Model, Pushed, Seq1} = recv_term(B),
    true = is_integer(Seq1),
    Name = prop(name, Pushed),
    Id = prop(id, Pushed),

    %% Read it back, by binary id and by the id as a string (a byte list).
    {sync, ok, Read} = call(A, {sync, read, Model, [{id, Id}]}),
    Name = prop(name, Read),
    {sync, ok, Read2} = call(A, {sync, read, Model, [{<<"id">>, binary_to_list(Id)}]}),
    Name = prop(name, Read2),

    %% The second seed's nested form; B hears the update with Seq + 1.
    {sync, ok, Patched} = call(A, {sync, {patch, Model, [{id, Id}, {level, 21}]}}),
    21 = prop(level, Patched),
    Name = prop(name, Patched),
    Seq2 = Seq1 + 1,
    {sync, updated, Model, Updated, Seq2} = recv_term(B),
    21 = prop(level, Updated),

    %% A compressed term (term_to_binary's compressed option, tag 80).
    Long = binary:copy(<<"lorem ipsum ">>, 500),
    {sync, ok, Big} = call_bin(A, term_to_binary({sync, create, Model, [{id, <<"big">>}, {text, Long}]}, [compressed])),
    Long = prop(text, Big),
    Seq3 = Seq2 + 1,
    {sync, created, Model, _, Seq3} = recv_term(B),

    %% A BERT-JS style text frame: each byte one character, sent as UTF-8.
    %% The reply comes back in a text frame the same way.
    ok = send_frame(A, 1, bytes_to_chars(term_to_binary({sync, read, Model, [{id, <<"big">>}], text}))),
    {text, TextReply} = recv_message(A),
    {sync, ok, Big2, text} = binary_to_term(chars_to_bytes(TextReply)),
    Long = prop(text, Big2),

    %% The text control message ping.
    ok = send_frame(A, 1, <<"ping">>),
    {text, <<"pong">>} = recv_message(A),

    %% A request split over three frames with a ping between them.
    Req = term_to_binary({sync, read, Model, [{id, Id}], frag}),
    <<F1:5/binary, F2:5/binary, F3/binary>> = Req,
    ok = send_frame(A, false, 2, F1),
    ok = send_frame(A, true, 9, <<"between">>),
    ok = send_frame(A, false, 0, F2),
    ok = send_frame(A, true, 0, F3),
    {sync, ok, _, frag} = recv_term(A),
    <<"between">> = receive_pong(A),

    %% Broadcast: B hears it, A (subscribed too) does not.
    {sync, ok, _} = call(A, {sync, subscribe, Model, []}),
    {sync, ok, _} = call(A, {sync, broadcast, Model, [{text, <<"you shall not pass">>}]}),
    Seq4 = Seq3 + 1,
    {sync, broadcast, Model, Said, Seq4} = recv_term(B),
    <<"you shall not pass">> = prop(text, Said),

    %% Recovery: a third connection that saw Seq1 gets the events after
    %% it, in order, right after its reply; booleans as {bert, Bool}.
    C = connect(Host, Port, Path),
    {sync, ok, [{seq, Seq4}, {epoch, Epoch}, {recovered, {bert, true}}]} =
        call(C, {sync, subscribe, Model, [{since, Seq1}, {epoch, Epoch}]}),
    {sync, updated, Model, _, Seq2} = recv_term(C),
    {sync, created, Model, _, Seq3} = recv_term(C),
    {sync, broadcast, Model, Said, Seq4} = recv_term(C),
    {sync, ok, [{seq, Seq4}, {epoch, Epoch}, {recovered, {bert, false}}]} =
        call(C, {sync, subscribe, Model, [{since, Seq1}, {epoch, <<"another">>}]}),
    ok = send_frame(C, 8, <<1000:16>>),
    close = recv_message(C),

    %% Errors: each a clear {sync, error, {Code, Message}} and the
    %% connection lives on.
    {sync, error, {not_found, M1}} = call(A, {sync, read, Model, [{id, <<"nobody">>}]}),
    true = is_binary(M1),
    {sync, error, {bad_request, M2}} = call_bin(A, <<1, 2, 3>>),
    true = is_binary(M2),
    {sync, error, {bad_request, _}} = call(A, {sync, fly, Model, []}),
    {sync, error, {bad_request, _}} = call_bin(A, term_to_binary({sync, read, Model, [{pid, self()}]})),
    {sync, error, {bad_request, _}, 7} = call(A, {sync, jump, Model, [], 7}),

    %% Delete: B hears it, the read after it is not_found. A hears it too:
    %% it subscribed above, and only broadcast skips the sender.
    {sync, ok, _} = call_skip_pushes(A, {sync, delete, Model, [{id, Id}]}),
    Seq5 = Seq4 + 1,
    {sync, deleted, Model, Deleted, Seq5} = recv_term(B),
    Id = prop(id, Deleted),
    {sync, error, {not_found, _}} = call_skip_pushes(A, {sync, read, Model, [{id, Id}]}),

    %% A clean close: the server answers the close frame.
    ok = send_frame(A, 8, <<1000:16>>),
    close = recv_message(A),
    ok = send_frame(B, 8, <<1000:16>>),
    close = recv_message(B),
    ok.

prop(Key, Props) when is_list(Props) ->
    case lists:keyfind(Key, 1, Props) of
        {Key, Value} -> Value;
        false -> error({missing_prop, Key, Props})
    end;
prop(Key, Other) ->
    error({not_a_proplist, Key, Other}).

call(Conn, Term) ->
    call_bin(Conn, term_to_binary(Term)).

call_bin(Conn, Bin) ->
    ok = send_frame(Conn, 2, Bin),
    recv_term(Conn).

%% call_skip_pushes is call for a connection that is also subscribed: it
%% passes over pushes until the reply.
call_skip_pushes(Conn, Term) ->
    ok = send_frame(Conn, 2, term_to_binary(Term)),
    skip_pushes(Conn).

skip_pushes(Conn) ->
    case recv_term(Conn) of
        {sync, Event, _, _, _} when Event =:= created; Event =:= updated; Event =:= deleted -> skip_pushes(Conn);
        Reply -> Reply
    end.

recv_term(Conn) ->
    case recv_message(Conn) of
        {binary, Bin} -> binary_to_term(Bin, [safe]);
        Other -> error({want_binary_frame, Other})
    end.

bytes_to_chars(Bin) ->
    unicode:characters_to_binary(binary_to_list(Bin), latin1, utf8).

chars_to_bytes(Text) ->
    case unicode:characters_to_binary(Text, utf8, latin1) of
        Bin when is_binary(Bin) -> Bin;
        Bad -> error({not_a_binary_string, Bad})
    end.

%% WebSocket client (RFC 6455).

-record(conn, {sock}).

connect(Host, Port, Path) ->
    {ok, Sock} = gen_tcp:connect(Host, Port, [binary, {active, false}, {packet, raw}, {nodelay, true}], ?TIMEOUT),
    Key = base64:encode(rand:bytes(16)),
    Request = [
        "GET ", Path, " HTTP/1.1\r\n",
        "Host: ", Host, ":", integer_to_list(Port), "\r\n",
        "Upgrade: websocket\r\n",
        "Connection: Upgrade\r\n",
        "Sec-WebSocket-Key: ", Key, "\r\n",
        "Sec-WebSocket-Version: 13\r\n\r\n"
    ],
    ok = gen_tcp:send(Sock, Request),
    Head = read_head(Sock, <<>>),
    [StatusLine | HeaderLines] = binary:split(Head, <<"\r\n">>, [global, trim_all]),
    case binary:split(StatusLine, <<" ">>, [global]) of
        [<<"HTTP/1.1">>, <<"101">> | _] -> ok;
        _ -> error({handshake_status, StatusLine})
    end,
    Headers = [header(L) || L <- HeaderLines],
    Accept = base64:encode(sha1(<<Key/binary, ?GUID/binary>>)),
    case lists:keyfind(<<"sec-websocket-accept">>, 1, Headers) of
        {_, Accept} -> ok;
        Got -> error({bad_accept, Got, Accept})
    end,
    {_, Upgrade} = lists:keyfind(<<"upgrade">>, 1, Headers),
    <<"websocket">> = string:lowercase(Upgrade),
    #conn{sock = Sock}.

read_head(Sock, Acc) ->
    case binary:match(Acc, <<"\r\n\r\n">>) of
        {Pos, 4} when Pos + 4 =:= byte_size(Acc) ->
            binary:part(Acc, 0, Pos);
        {_, _} ->
            %% The server must not speak before the client's first frame.
            error({bytes_after_handshake, Acc});
        nomatch when byte_size(Acc) > 8192 ->
            error(handshake_too_long);
        nomatch ->
            {ok, Byte} = gen_tcp:recv(Sock, 1, ?TIMEOUT),
            read_head(Sock, <<Acc/binary, Byte/binary>>)
    end.

header(Line) ->
    [Name, Value] = binary:split(Line, <<":">>),
    {string:lowercase(string:trim(Name)), string:trim(Value)}.

send_frame(Conn, Opcode, Payload) ->
    send_frame(Conn, true, Opcode, Payload).

send_frame(#conn{sock = Sock}, Fin, Opcode, Payload) ->
    FinBit = case Fin of true -> 1; false -> 0 end,
    Len = byte_size(Payload),
    LenBits =
        if
            Len < 126 -> <<1:1, Len:7>>;
            Len < 65536 -> <<1:1, 126:7, Len:16>>;
            true -> <<1:1, 127:7, Len:64>>
        end,
    Mask = rand:bytes(4),
    gen_tcp:send(Sock, [<<FinBit:1, 0:3, Opcode:4>>, LenBits, Mask, mask(Payload, Mask)]).

mask(Payload, <<M:32>> = Mask) ->
    Whole = byte_size(Payload) div 4 * 4,
    <<Body:Whole/binary, Tail/binary>> = Payload,
    Masked = <<<<(W bxor M):32>> || <<W:32>> <= Body>>,
    TailLen = byte_size(Tail),
    <<MaskTail:TailLen/binary, _/binary>> = Mask,
    TailMasked = xor_bytes(Tail, MaskTail),
    <<Masked/binary, TailMasked/binary>>.

xor_bytes(A, B) ->
    list_to_binary([X bxor Y || {X, Y} <- lists:zip(binary_to_list(A), binary_to_list(B))]).

%% recv_message returns {text, Bin}, {binary, Bin} or close, answering
%% pings and remembering pongs on the way.
recv_message(Conn) ->
    recv_message(Conn, none, []).

recv_message(Conn, Type, Acc) ->
    {Fin, Opcode, Payload} = recv_frame(Conn),
    case Opcode of
        9 ->
            ok = send_frame(Conn, 10, Payload),
            recv_message(Conn, Type, Acc);
        10 ->
            put(pongs, [Payload | get_pongs()]),
            recv_message(Conn, Type, Acc);
        8 ->
            close;
        0 when Type =/= none ->
            finish(Conn, Fin, Type, [Payload | Acc]);
        1 when Type =:= none ->
            finish(Conn, Fin, text, [Payload]);
        2 when Type =:= none ->
            finish(Conn, Fin, binary, [Payload]);
        _ ->
            error({unexpected_frame, Opcode, Type})
    end.

finish(_Conn, true, Type, Acc) ->
    {Type, iolist_to_binary(lists:reverse(Acc))};
finish(Conn, false, Type, Acc) ->
    recv_message(Conn, Type, Acc).

get_pongs() ->
    case get(pongs) of
        undefined -> [];
        L -> L
    end.

receive_pong(_Conn) ->
    case lists:reverse(get_pongs()) of
        [P | Rest] ->
            put(pongs, lists:reverse(Rest)),
            P;
        [] ->
            error(no_pong)
    end.

recv_frame(#conn{sock = Sock}) ->
    {ok, <<Fin:1, Rsv:3, Opcode:4, Masked:1, Len7:7>>} = gen_tcp:recv(Sock, 2, ?TIMEOUT),
    0 = Rsv,
    0 = Masked,
    Len =
        case Len7 of
            126 -> {ok, <<L:16>>} = gen_tcp:recv(Sock, 2, ?TIMEOUT), L;
            127 -> {ok, <<L:64>>} = gen_tcp:recv(Sock, 8, ?TIMEOUT), L;
            L -> L
        end,
    Payload =
        case Len of
            0 -> <<>>;
            _ -> {ok, P} = gen_tcp:recv(Sock, Len, ?TIMEOUT), P
        end,
    {Fin =:= 1, Opcode, Payload}.

%% SHA-1 (FIPS 180-4), enough for the handshake's accept key.

sha1(Msg) ->
    Bits = bit_size(Msg),
    Pad = (447 - Bits) band 511,
    sha1_blocks(<<Msg/binary, 1:1, 0:Pad, Bits:64>>,
                {16#67452301, 16#EFCDAB89, 16#98BADCFE, 16#10325476, 16#C3D2E1F0}).

sha1_blocks(<<>>, {A, B, C, D, E}) ->
    <<A:32, B:32, C:32, D:32, E:32>>;
sha1_blocks(<<Block:64/binary, Rest/binary>>, {H0, H1, H2, H3, H4}) ->
    W = sha1_schedule(list_to_tuple([X || <<X:32>> <= Block])),
    {A, B, C, D, E} = sha1_rounds(0, W, {H0, H1, H2, H3, H4}),
    sha1_blocks(Rest, {add32(H0, A), add32(H1, B), add32(H2, C), add32(H3, D), add32(H4, E)}).

sha1_schedule(W) when tuple_size(W) =:= 80 ->
    W;
sha1_schedule(W) ->
    I = tuple_size(W) + 1,
    X = element(I - 3, W) bxor element(I - 8, W) bxor element(I - 14, W) bxor element(I - 16, W),
    sha1_schedule(erlang:append_element(W, rotl(X, 1))).

sha1_rounds(80, _W, H) ->
    H;
sha1_rounds(T, W, {A, B, C, D, E}) ->
    {F, K} =
        if
            T < 20 -> {(B band C) bor ((bnot B) band D), 16#5A827999};
            T < 40 -> {B bxor C bxor D, 16#6ED9EBA1};
            T < 60 -> {(B band C) bor (B band D) bor (C band D), 16#8F1BBCDC};
            true -> {B bxor C bxor D, 16#CA62C1D6}
        end,
    Temp = add32(add32(add32(rotl(A, 5), F band 16#FFFFFFFF), add32(E, K)), element(T + 1, W)),
    sha1_rounds(T + 1, W, {Temp, A, rotl(B, 30), C, D}).

rotl(X, N) ->
    ((X bsl N) bor (X bsr (32 - N))) band 16#FFFFFFFF.

add32(X, Y) ->
    (X + Y) band 16#FFFFFFFF.
