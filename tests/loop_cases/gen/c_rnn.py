def rnn_case(op, name, H=3, I=4, S=5, B=2, direction='forward', layout=0, seq=None, init=True, bias=True,
             peep=False, opset=14, engine='ort', **attrs):
    G = {'RNN': 1, 'GRU': 3, 'LSTM': 4}[op]
    D = 2 if direction == 'bidirectional' else 1
    X = rnd((B, S, I) if layout else (S, B, I))
    ins = {'X': X}
    inits = {'W': rnd((D, G * H, I), lo=-1, hi=1), 'R': rnd((D, G * H, H), lo=-1, hi=1)}
    names = ['X', 'W', 'R']
    names.append('B' if bias else '')
    if bias: inits['B'] = rnd((D, 2 * G * H), lo=-1, hi=1)
    if seq is not None:
        inits['L'] = np.array(seq, np.int32); names.append('L')
    else: names.append('')
    st = (B, D, H) if layout else (D, B, H)
    if init:
        ins['h0'] = rnd(st); names.append('h0')
        if op == 'LSTM': ins['c0'] = rnd(st); names.append('c0')
    else:
        names.append('')
        if op == 'LSTM': names.append('')
    if peep:
        inits['P'] = rnd((D, 3 * H)); names.append('P')
    while names and names[-1] == '': names.pop()
    outs = ['Y', 'Yh'] + (['Yc'] if op == 'LSTM' else [])
    node = N(op, names, outs, hidden_size=H, direction=direction, **({'layout': layout} if layout else {}), **attrs)
    case(name, [node], ins, inits, opset=opset, outputs=outs, engine=engine)

for op in ['RNN', 'GRU', 'LSTM']:
    o = op.lower()
    rnn_case(op, f'{o}_fwd')
    rnn_case(op, f'{o}_rev', direction='reverse')
    rnn_case(op, f'{o}_bidir', direction='bidirectional', init=False)
    rnn_case(op, f'{o}_seqlen', direction='bidirectional', seq=[5, 3])
    rnn_case(op, f'{o}_seqlen3', B=3, seq=[2, 2, 5], bias=False)
    rnn_case(op, f'{o}_clip', clip=0.7)
    rnn_case(op, f'{o}_layout1', direction='bidirectional', layout=1, engine='ref')
rnn_case('RNN', 'rnn_acts', direction='bidirectional', activations=['Relu', 'LeakyRelu'], activation_alpha=[0.3])
rnn_case('RNN', 'rnn_acts2', direction='bidirectional', activations=['HardSigmoid', 'Elu'], activation_alpha=[0.3, 0.8], activation_beta=[0.4, 0.5])
rnn_case('RNN', 'rnn_acts3', activations=['Softsign'], engine='ref')
rnn_case('RNN', 'rnn_acts4', activations=['Softplus'])
rnn_case('RNN', 'rnn_affine', activations=['Affine'], activation_alpha=[0.5], activation_beta=[0.2], engine='ref')
rnn_case('RNN', 'rnn_scaledtanh', activations=['ScaledTanh'], activation_alpha=[1.5], activation_beta=[0.7], engine='ref')
rnn_case('RNN', 'rnn_thresh', activations=['ThresholdedRelu'], activation_alpha=[0.2], engine='ref')
rnn_case('GRU', 'gru_lbr', linear_before_reset=1)
rnn_case('GRU', 'gru_lbr_bidir', direction='bidirectional', linear_before_reset=1, seq=[4, 5])
rnn_case('GRU', 'gru_acts', activations=['HardSigmoid', 'Softsign'], activation_alpha=[0.25], activation_beta=[0.55])
rnn_case('LSTM', 'lstm_peep', peep=True)
rnn_case('LSTM', 'lstm_peep_bidir', peep=True, direction='bidirectional', seq=[3, 5], clip=1.5)
rnn_case('LSTM', 'lstm_forget', input_forget=1, engine='ref')
rnn_case('LSTM', 'lstm_acts', activations=['HardSigmoid', 'Tanh', 'Softsign'], activation_alpha=[0.3], activation_beta=[0.4])
rnn_case('LSTM', 'lstm_big', H=16, I=24, S=7, B=3, direction='bidirectional')
