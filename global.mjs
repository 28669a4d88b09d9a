// `import 'websocketstream/global'`: see global.js.
import './global.js'
